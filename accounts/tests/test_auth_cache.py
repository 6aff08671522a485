"""Permissions come from the shared cache, and every change to them shows on the next request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import AUDITOR, SECURITY_ENGINEER
from accounts.services import user_role_set

pytestmark = pytest.mark.django_db
REGISTER = reverse("cluster_register")


def _status(client) -> int:
    return client.get(REGISTER).status_code


def test_it_reads_permissions_from_the_cache_not_the_database(engineer):
    with CaptureQueriesContext(connection) as queries:
        assert _status(engineer) == 200
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "auth_permission" not in tables
    assert "auth_group" not in tables


def test_it_applies_a_changed_role_on_the_next_request(engineer):
    assert _status(engineer) == 200
    user_role_set(user=engineer.user, role=AUDITOR)
    assert _status(engineer) == 403
    user_role_set(user=engineer.user, role=SECURITY_ENGINEER)
    assert _status(engineer) == 200


def test_it_applies_a_permission_taken_from_a_group_on_the_next_request(engineer):
    assert _status(engineer) == 200
    group = Group.objects.get(name=SECURITY_ENGINEER)
    group.permissions.remove(Permission.objects.get(codename="add_cluster"))
    assert _status(engineer) == 403


def test_it_applies_a_lost_superuser_status_on_the_next_request(auditor):
    user = auditor.user
    user.is_superuser = True
    user.save()
    assert _status(auditor) == 200
    user.is_superuser = False
    user.save()
    assert _status(auditor) == 403


def test_it_shows_the_role_from_the_cache(engineer):
    assert SECURITY_ENGINEER in engineer.get(reverse("fleet")).content.decode()
    user_role_set(user=engineer.user, role=AUDITOR)
    assert AUDITOR in engineer.get(reverse("fleet")).content.decode()
