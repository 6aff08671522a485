"""Compliance stories: Erin (engineer) asks, Ada (admin) approves, Aude (auditor) reads.

The personas `admin`, `engineer`, `auditor` and `outsider` come from the root conftest; this
adds a second engineer and a cluster whose latest evaluation is ready to be checklisted.
"""

from __future__ import annotations

import pytest

from compliance.tests.factories import evaluated_cluster


@pytest.fixture
def second_engineer(db, django_user_model):
    from django.test import Client

    from accounts.roles import SECURITY_ENGINEER
    from accounts.services import user_create

    user, _ = user_create(username="eric", email="eric@example.com", role=SECURITY_ENGINEER)
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def cluster(db):
    return evaluated_cluster()
