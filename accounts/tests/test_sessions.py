"""Sessions end when the browser closes, after the idle timeout, and at the absolute limit; and
the password rules refuse short and common passwords."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.middleware import LAST_SEEN_AT, SIGNED_IN_AT
from accounts.roles import AUDITOR
from accounts.services import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "violet-harbour-lantern-42"


def backdate(client: Client, key: str, seconds: float) -> None:
    session = client.session
    session[key] = time.time() - seconds
    session.save()


def test_it_signs_in_with_a_cookie_that_ends_with_the_browser(client):
    user_create(username="aude", email="aude@example.com", role=AUDITOR, password=PASSWORD)

    response = client.post(reverse("login"), {"username": "aude", "password": PASSWORD})

    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert cookie["httponly"] is True
    assert SIGNED_IN_AT in client.session and LAST_SEEN_AT in client.session


def test_it_ends_a_session_idle_longer_than_the_timeout(auditor, settings):
    settings.RAMPART_SESSION_IDLE_MINUTES = 30
    assert auditor.get(reverse("fleet")).status_code == 200

    backdate(auditor, LAST_SEEN_AT, 31 * 60)
    response = auditor.get(reverse("fleet"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in auditor.session


def test_it_keeps_a_session_that_views_pages(auditor, settings):
    settings.RAMPART_SESSION_IDLE_MINUTES = 30
    backdate(auditor, LAST_SEEN_AT, 29 * 60)

    assert auditor.get(reverse("fleet")).status_code == 200

    assert time.time() - auditor.session[LAST_SEEN_AT] < 5


def test_it_does_not_count_background_polling_as_activity(auditor, settings):
    settings.RAMPART_SESSION_IDLE_MINUTES = 30
    backdate(auditor, LAST_SEEN_AT, 29 * 60)

    auditor.get(reverse("fleet"), headers={"X-Requested-With": "fetch"})

    assert time.time() - auditor.session[LAST_SEEN_AT] > 28 * 60


def test_it_ends_a_session_at_the_absolute_limit_however_active(auditor, settings):
    settings.SESSION_COOKIE_AGE = 8 * 3600
    assert auditor.get(reverse("fleet")).status_code == 200

    backdate(auditor, SIGNED_IN_AT, 8 * 3600 + 1)

    assert auditor.get(reverse("fleet")).status_code == 302


def test_it_refuses_short_common_and_numeric_passwords():
    for weak in ("Tr0ub4dor&3", "password1234", "839475610293847"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password(PASSWORD)
