"""Login throttling over HTTP: django-axes locks a username + address pair after repeated
failures, for a cool-off, and an admin can unlock it sooner."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from accounts.roles import SECURITY_ENGINEER
from accounts.services import user_create
from tests.test_security import EVENT_HANDLER, INLINE_SCRIPT, INLINE_STYLE

pytestmark = pytest.mark.django_db

PASSWORD = "violet-harbour-lantern-42"
COOL_OFF = timedelta(seconds=2)


@pytest.fixture
def erin(settings):
    settings.AXES_COOLOFF_TIME = COOL_OFF
    user, _ = user_create(
        username="erin", email="erin@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    return user


def log_in(client: Client, password: str, username: str = "erin", forwarded_for: str = ""):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    body = {"username": username, "password": password}
    return client.post(reverse("login"), body, headers=headers)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_it_refuses_the_right_password_after_forty_wrong_ones(client, erin):
    for attempt in range(40):
        response = log_in(client, f"wrong-{attempt}")
        assert response.status_code in (200, 429), attempt
        assert not logged_in(client)

    response = log_in(client, PASSWORD)

    assert response.status_code == 429
    assert not logged_in(client)
    assert client.get(reverse("fleet")).status_code == 302
    attempt = AccessAttempt.objects.get(username="erin", ip_address="127.0.0.1")
    assert attempt.failures_since_start >= 40


def test_it_lets_the_right_password_in_after_the_cool_off(client, erin):
    for attempt in range(6):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 429

    time.sleep(COOL_OFF.total_seconds() + 0.5)
    response = log_in(client, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("fleet")
    assert logged_in(client)
    # A success clears the failures, so the next typo does not lock again at once.
    assert not AccessAttempt.objects.filter(username="erin").exists()


def test_it_shows_a_styled_lockout_page_without_inline_script(client, erin, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    for attempt in range(5):
        response = log_in(client, f"wrong-{attempt}")

    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed logins" in html
    assert "Try again in 15 minutes" in html
    assert "/static/css/rampart.css" in html
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert not INLINE_SCRIPT.search(html)
    assert not INLINE_STYLE.search(html)
    assert not EVENT_HANDLER.search(html)
    assert PASSWORD not in html


def test_it_counts_failures_per_username_and_address(client, erin):
    user_create(
        username="aude", email="aude@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    for attempt in range(10):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 429

    # The same person from another address, and another person from this one, are not locked.
    elsewhere = Client(REMOTE_ADDR="192.0.2.44")
    assert log_in(elsewhere, PASSWORD).status_code == 302
    assert log_in(Client(), PASSWORD, username="aude").status_code == 302


def test_it_takes_the_address_the_trusted_proxy_saw(client, erin, settings):
    settings.RAMPART_PROXY_COUNT = 1
    # The attacker writes a new left-most X-Forwarded-For each time; the proxy appends the truth.
    for attempt in range(8):
        log_in(client, f"wrong-{attempt}", forwarded_for=f"198.51.100.{attempt}, 203.0.113.9")

    assert log_in(client, PASSWORD, forwarded_for="10.1.1.1, 203.0.113.9").status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.9"
    assert log_in(client, PASSWORD, forwarded_for="203.0.113.10").status_code == 302


def test_it_lets_an_admin_unlock_a_locked_out_person(client, erin, admin, settings):
    settings.AXES_COOLOFF_TIME = timedelta(hours=1)
    for attempt in range(5):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username="erin")

    listing = admin.get(reverse("admin:axes_accessattempt_changelist") + "?locked_out=yes")
    assert listing.status_code == 200
    assert "erin" in listing.content.decode()
    unlocked = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert unlocked.status_code == 302

    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_it_does_not_let_an_engineer_unlock_anyone(engineer):
    response = engineer.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 302  # to the admin login: not staff
    assert engineer.user.is_staff is False
