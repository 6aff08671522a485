"""Admins manage people in the app; everyone changes their own password; each change audited."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.roles import ADMIN, AUDITOR, SECURITY_ENGINEER, user_role
from accounts.services import user_create
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"
NEW_PASSWORD = "a-longer-better-password-42"
User = get_user_model()


def _create(client, **fields):
    data = {
        "username": "noor",
        "email": "noor@example.com",
        "role": SECURITY_ENGINEER,
        "password1": PASSWORD,
        "password2": PASSWORD,
        **fields,
    }
    return client.post(reverse("user_create"), data)


def test_it_lets_an_admin_create_a_user_in_a_role_and_audits_it(admin):
    response = _create(admin)

    assert response.status_code == 302
    noor = User.objects.get(username="noor")
    assert user_role(noor) == SECURITY_ENGINEER
    assert noor.check_password(PASSWORD)
    event = AuditEvent.objects.get(action="user.create")
    assert event.actor_name == "ada"
    assert event.object_type == "user" and event.object_id == str(noor.pk)
    assert event.cluster_id is None
    assert event.after == {
        "username": "noor",
        "email": "noor@example.com",
        "role": SECURITY_ENGINEER,
        "active": True,
    }
    assert PASSWORD not in str(event.after)


def test_it_refuses_a_weak_first_password(admin):
    response = _create(admin, password1="noor", password2="noor")

    assert response.status_code == 200
    assert not User.objects.filter(username="noor").exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_it_lists_users_with_their_role(admin, auditor):
    body = admin.get(reverse("user_list")).content.decode()

    assert "aude" in body and AUDITOR in body
    assert "ada" in body and "(you)" in body


def test_it_changes_a_role_and_audits_before_and_after(admin, auditor):
    aude = auditor.user

    response = admin.post(reverse("user_change", args=[aude.pk]), {"role": SECURITY_ENGINEER})

    assert response.status_code == 302
    aude.refresh_from_db()
    assert user_role(aude) == SECURITY_ENGINEER
    event = AuditEvent.objects.get(action="user.role_change")
    assert event.before and event.after
    assert event.before["role"] == AUDITOR and event.after["role"] == SECURITY_ENGINEER
    # The new role takes effect at the person's next request.
    assert auditor.get(reverse("cluster_register")).status_code == 200


def test_it_deactivates_a_user_who_then_cannot_use_the_app(admin, engineer):
    erin = engineer.user

    admin.post(reverse("user_active_set", args=[erin.pk]), {"active": "0"})

    erin.refresh_from_db()
    assert not erin.is_active
    assert AuditEvent.objects.get(action="user.deactivate").after == {
        "username": "erin",
        "email": "erin@example.com",
        "role": SECURITY_ENGINEER,
        "active": False,
    }
    # The open session stops at its next request.
    assert engineer.get(reverse("fleet")).status_code == 302
    admin.post(reverse("user_active_set", args=[erin.pk]), {"active": "1"})
    erin.refresh_from_db()
    assert erin.is_active
    assert AuditEvent.objects.filter(action="user.reactivate").count() == 1


def test_it_does_not_let_an_admin_demote_or_deactivate_themselves(admin):
    ada = admin.user

    admin.post(reverse("user_change", args=[ada.pk]), {"role": AUDITOR})
    admin.post(reverse("user_active_set", args=[ada.pk]), {"active": "0"})

    ada.refresh_from_db()
    assert user_role(ada) == ADMIN and ada.is_active
    assert not AuditEvent.objects.filter(action__startswith="user.").exists()


@pytest.mark.parametrize("persona", ["engineer", "auditor", "outsider"])
def test_it_enforces_the_admin_role_on_the_server(request, persona, django_user_model):
    client = request.getfixturevalue(persona)
    victim, _ = user_create(username="vic", email="vic@example.com", role=AUDITOR)

    assert client.get(reverse("user_list")).status_code == 403
    assert client.get(reverse("user_create")).status_code == 403
    assert _create(client).status_code == 403
    assert client.post(reverse("user_change", args=[victim.pk]), {"role": ADMIN}).status_code == 403
    assert (
        client.post(reverse("user_active_set", args=[victim.pk]), {"active": "0"}).status_code
        == 403
    )
    victim.refresh_from_db()
    assert user_role(victim) == AUDITOR and victim.is_active
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", [ADMIN, SECURITY_ENGINEER, AUDITOR, None])
def test_everyone_changes_their_own_password_in_the_app(role, django_user_model):
    user: Any
    if role:
        user, _ = user_create(username="pat", email="pat@example.com", role=role, password=PASSWORD)
    else:
        user = django_user_model.objects.create_user(username="pat", password=PASSWORD)
    client = Client()
    client.force_login(user)

    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert "/admin/" not in reverse("password_change")
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # This session stays signed in; the change is audited, the password never is.
    assert client.get(reverse("password_change_done")).status_code == 200
    event = AuditEvent.objects.get(action="user.password_change")
    assert event.actor_name == "pat"
    assert NEW_PASSWORD not in str(event.after)


def test_it_refuses_a_password_change_without_the_old_password(auditor):
    response = auditor.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "incorrectly" in response.content.decode()
    assert not AuditEvent.objects.exists()
