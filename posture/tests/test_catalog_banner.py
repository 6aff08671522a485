"""A stale release catalog is a banner with the refresh command for admins, a footer note for
everyone else, and nothing while the catalog is fresh."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from posture.release_catalog import get_catalog

pytestmark = pytest.mark.django_db
COMMAND = "manage.py refresh_catalog"


@pytest.fixture
def stale(monkeypatch):
    generated = get_catalog().generated_at
    monkeypatch.setattr(timezone, "localdate", lambda *a: generated + timedelta(days=90))


@pytest.fixture
def fresh(monkeypatch):
    generated = get_catalog().generated_at
    monkeypatch.setattr(timezone, "localdate", lambda *a: generated + timedelta(days=3))


def test_an_admin_sees_the_stale_catalog_banner_with_the_command(admin, stale):
    body = admin.get(reverse("fleet")).content.decode()

    assert "90 days old" in body
    assert COMMAND in body
    assert 'role="alert"' in body


@pytest.mark.parametrize("persona", ["engineer", "auditor"])
def test_others_see_a_quiet_footer_note(request, persona, stale):
    body = request.getfixturevalue(persona).get(reverse("fleet")).content.decode()

    assert COMMAND not in body
    assert 'role="alert"' not in body
    assert "an administrator can refresh it" in body


@pytest.mark.parametrize("persona", ["admin", "auditor"])
def test_a_fresh_catalog_shows_neither_from_the_first_run(request, persona, fresh):
    body = request.getfixturevalue(persona).get(reverse("fleet")).content.decode()

    assert COMMAND not in body
    assert "an administrator can refresh it" not in body
