"""Waiver requests reach those who may approve them; the requester hears the decision.

Erin (engineer) requests a waiver; Ada and Alan (admins) may approve it, as may Root (a
superuser); Nell, an admin without an email address, and Ivan, a deactivated admin, cannot be
told. Each audit event is emailed once per person, however often the minute task reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from accounts.roles import ADMIN
from accounts.services import user_create
from alerts import approvals
from alerts.models import AuditCursor, Notification, NotificationEntry
from alerts.tasks import notify_waiver_events, send_notification
from alerts.tests.conftest import Inbox, text_part
from clusters.models import Cluster
from compliance import services as compliance
from compliance.models import Waiver
from compliance.tests.factories import evaluated_cluster

CHECK = "access.csr_approval"  # high, failing on the evaluated cluster
TITLE = "Subjects that can approve certificate signing requests"
APPROVERS = ["ada@example.com", "alan@example.com", "root@example.com"]


@pytest.fixture
def cluster(db: Any, admin: Any, settings: Any) -> Cluster:
    settings.SITE_URL = "https://rampart.example.com"
    user_create(username="alan", email="alan@example.com", role=ADMIN)
    user_create(username="nell", email="", role=ADMIN)
    ivan, _ = user_create(username="ivan", email="ivan@example.com", role=ADMIN)
    User.objects.filter(pk=ivan.pk).update(is_active=False)
    User.objects.create_superuser("root", "root@example.com", "x" * 20)
    return evaluated_cluster(name="prod-eu")


@pytest.fixture
def notify(django_capture_on_commit_callbacks: Any) -> Iterator[Callable[..., list[int]]]:
    """The minute task's pass, through the worker path: what it enqueues is sent after commit."""

    def run(**kwargs: Any) -> list[int]:
        sent = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            notification_ids = approvals.waiver_events_notify(**kwargs)
            assert len(mail.outbox) == sent  # nothing leaves before the pass commits
        return notification_ids

    with mock.patch.object(send_notification, "delay", side_effect=send_notification):
        yield run


def request(cluster: Cluster, by: Any, **changes: Any) -> Waiver:
    fields: dict[str, Any] = {
        "cluster": cluster,
        "check_id": CHECK,
        "by": by,
        "owner_email": "platform@example.com",
        "reason": "The approver bot is replaced next sprint.",
        "expires_at": timezone.now() + timedelta(days=30),
        "namespaces": ["ops"],
    }
    return compliance.waiver_request(**{**fields, **changes})


def recipients() -> list[str]:
    return sorted(message.to[0] for message in mail.outbox)


def test_it_asks_every_approver_once_but_the_requester(cluster, engineer, notify) -> None:
    waiver = request(cluster, engineer.user)
    assert len(notify()) == 3
    assert notify() == []
    assert notify(now=timezone.now() + timedelta(minutes=5)) == []  # re-read in the overlap
    assert recipients() == APPROVERS
    message = mail.outbox[0]
    assert message.subject == f"[Rampart] prod-eu: erin asks to waive {TITLE}"
    body = message.body
    assert f"erin asks to accept the risk of {TITLE} ({CHECK}, high) on prod-eu until " in body
    assert "Scope: namespace(s) ops" in body
    assert "Reason: The approver bot is replaced next sprint." in body
    assert "Risk owner: platform@example.com" in body
    assert (
        "Review the waiver request: "
        f"https://rampart.example.com/clusters/prod-eu/waivers/#waiver-{waiver.pk}"
    ) in body
    assert "because you may approve waivers" in body
    assert "/alerts/unsubscribe/" not in body and "List-Unsubscribe" not in message.extra_headers
    notification = Notification.objects.get(recipient="ada@example.com")
    assert (notification.kind, notification.cluster, notification.status) == (
        "waiver_requested",
        cluster,
        "sent",
    )


def test_it_tells_the_requester_who_approved_and_who_revoked(
    cluster, engineer, admin, notify
) -> None:
    waiver = request(cluster, engineer.user)
    notify()
    compliance.waiver_approve(waiver=waiver, by=admin.user)
    assert len(notify()) == 1
    assert notify() == []
    approved = mail.outbox[-1]
    assert approved.to == ["erin@example.com"]
    assert approved.subject == f"[Rampart] prod-eu: your waiver of {TITLE} was approved by ada"
    assert "Approved by: ada on " in approved.body and "counts as waived" in approved.body

    compliance.waiver_revoke(waiver=waiver, by=admin.user)
    assert len(notify()) == 1
    revoked = mail.outbox[-1]
    assert revoked.to == ["erin@example.com"]
    assert revoked.subject == f"[Rampart] prod-eu: your waiver of {TITLE} was revoked by ada"
    assert "counts against the score again" in revoked.body
    assert len(mail.outbox) == 3 + 2
    assert NotificationEntry.objects.filter(recipient="erin@example.com").count() == 2


def test_it_says_declined_and_asks_nobody_about_a_request_already_decided(
    cluster, engineer, admin, notify
) -> None:
    waiver = request(cluster, engineer.user)
    compliance.waiver_revoke(waiver=waiver, by=admin.user)  # before the minute task ran
    notify()
    [declined] = mail.outbox
    assert declined.to == ["erin@example.com"]
    assert declined.subject == (
        f"[Rampart] prod-eu: your waiver request for {TITLE} was declined by ada"
    )
    assert "it never applied" in declined.body


def test_it_tells_nobody_when_the_requester_withdraws(cluster, engineer, notify) -> None:
    waiver = request(cluster, engineer.user)
    compliance.waiver_revoke(waiver=waiver, by=engineer.user)
    assert notify() == []
    assert mail.outbox == []


def test_it_leaves_events_from_before_the_reader_started_alone(
    cluster, engineer, admin, notify
) -> None:
    long_ago = timezone.now() - timedelta(days=3)
    request(cluster, engineer.user, now=long_ago, expires_at=long_ago + timedelta(days=30))
    AuditCursor.objects.update_or_create(
        name=approvals.CURSOR, defaults={"read_until": long_ago + timedelta(days=1)}
    )
    assert notify() == []
    cursor = AuditCursor.objects.get(name=approvals.CURSOR)
    assert cursor.read_until > timezone.now() - timedelta(minutes=1)


def test_the_minute_task_runs_it_and_beat_schedules_it(
    cluster, engineer, settings, django_capture_on_commit_callbacks
) -> None:
    request(cluster, engineer.user)
    with mock.patch.object(send_notification, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            assert notify_waiver_events() == 3
        assert delay.call_count == 3
        with django_capture_on_commit_callbacks(execute=True):
            assert notify_waiver_events() == 3  # still pending: enqueued again, claimed once
    for notification in Notification.objects.all():
        assert send_notification(notification.pk) == "sent"
        assert send_notification(notification.pk) == "not claimed"
    assert len(mail.outbox) == 3
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "alerts.tasks.notify_waiver_events"
    ]
    assert entry["schedule"] == 60.0


def test_it_delivers_a_request_over_real_smtp(cluster, engineer, smtp_inbox: Inbox, notify) -> None:
    waiver = request(cluster, engineer.user)
    notify()
    notify()
    assert sorted(envelope.rcpt_tos[0] for envelope in smtp_inbox.envelopes) == APPROVERS
    message = smtp_inbox.messages[0]
    html = text_part(message, "html")
    assert (
        f'href="https://rampart.example.com/clusters/prod-eu/waivers/#waiver-{waiver.pk}"' in html
    )
    assert ">Risk owner</th>" in html and "platform@example.com" in html
    assert "asks to accept the risk of" in text_part(message)
