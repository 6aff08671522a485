"""Recording and sending notifications: exactly one per regression per recipient."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from alerts import services
from alerts.models import Notification, Subscription
from alerts.regressions import Kind, Regression
from alerts.tasks import MAX_RETRIES, send_notification
from clusters.models import Cluster, CollectionRun
from clusters.tests.factories import make_cluster
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db


def regression(cluster: Cluster, key: str = "cluster:1:evaluation:2:new", severity: str = "high"):
    return Regression(
        Kind.NEW_FINDINGS,
        cluster.pk,
        cluster.name,
        severity,
        key,
        "1 new high finding(s): Privileged containers",
        "isolation.privileged (high) fails on 1 new object(s).",
        "isolation.privileged",
        (
            {
                "kind": "Deployment",
                "namespace": "web",
                "name": "api",
                "detail": 'container "api": securityContext.privileged=true',
            },
        ),
        1,
    )


def record(cluster: Cluster, **kwargs: str) -> Notification:
    [notification_id] = services.notifications_record(regressions=[regression(cluster, **kwargs)])
    return Notification.objects.get(pk=notification_id)


def test_it_records_one_notification_per_regression_per_recipient(engineer, outsider) -> None:
    cluster = make_cluster("prod", owners=["Owner@Example.com"])
    Subscription.objects.create(user=engineer.user, cluster=None, min_severity="high")
    Subscription.objects.create(user=outsider.user, cluster=cluster, min_severity="info")
    first = services.notifications_record(regressions=[regression(cluster)])
    again = services.notifications_record(regressions=[regression(cluster)])
    assert sorted(first) == sorted(again) and len(first) == 2
    # Oscar has no role: he may not see the cluster, so his subscription gets nothing.
    assert set(Notification.objects.values_list("recipient", flat=True)) == {
        "owner@example.com",
        "erin@example.com",
    }


def test_it_respects_each_subscribers_minimum_severity_and_delivery(engineer, admin) -> None:
    cluster = make_cluster("prod")
    Subscription.objects.create(user=engineer.user, cluster=cluster, min_severity="critical")
    Subscription.objects.create(user=admin.user, cluster=None, delivery="digest")
    assert services.notifications_record(regressions=[regression(cluster)]) == []
    digest = Notification.objects.get()
    assert (digest.recipient, digest.delivery, digest.status) == (
        "ada@example.com",
        "digest",
        "pending",
    )


def test_it_sends_once_when_the_task_runs_twice() -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    assert send_notification(notification.pk) == "sent"
    assert send_notification(notification.pk) == "not claimed"
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)
    assert notification.sent_at is not None


def test_it_sends_again_only_after_the_claiming_worker_died(
    settings, django_capture_on_commit_callbacks
) -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    # A worker claimed the row and died before sending: the row is left `sending`.
    assert services.notification_claim(notification_id=notification.pk) is not None
    assert send_notification(notification.pk) == "not claimed"  # a redelivered message
    assert services.notifications_requeue_stuck() == []  # not yet timed out
    later = timezone.now() + timedelta(minutes=settings.RAMPART_ALERT_SEND_TIMEOUT_MINUTES + 1)
    with (
        mock.patch.object(send_notification, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.notifications_requeue_stuck(now=later) == [notification.pk]
    delay.assert_called_once_with(notification.pk)
    assert send_notification(notification.pk) == "sent"
    assert services.notifications_requeue_stuck(now=later) == []
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.extra_headers["Message-ID"] == (
        f"<rampart-notification-{notification.pk}@127.0.0.1>"
    )
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 2)


def test_it_gives_up_on_a_row_lost_too_many_times(settings) -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    Notification.objects.filter(pk=notification.pk).update(
        status="sending",
        claimed_at=timezone.now() - timedelta(days=1),
        attempts=settings.RAMPART_ALERT_MAX_ATTEMPTS,
    )
    assert services.notifications_requeue_stuck() == []
    notification.refresh_from_db()
    assert notification.status == "failed" and "may have been delivered" in notification.error


def test_it_retries_smtp_errors_with_backoff() -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    flaky = [smtplib.SMTPServerDisconnected("connection lost"), 1]
    with mock.patch.object(EmailMessage, "send", side_effect=flaky) as send:
        send_notification.apply(args=[notification.pk])
    assert send.call_count == 2
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.error) == ("sent", 2, "")


def test_it_records_the_error_when_retries_run_out() -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    with mock.patch.object(EmailMessage, "send", side_effect=ConnectionRefusedError("refused")):
        send_notification.apply(args=[notification.pk])
    notification.refresh_from_db()
    assert notification.status == "failed" and notification.attempts == MAX_RETRIES + 1
    assert "ConnectionRefusedError: refused" in notification.error


def test_it_does_not_retry_a_bug() -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    with mock.patch.object(EmailMessage, "send", side_effect=ValueError("template bug")) as send:
        result = send_notification.apply(args=[notification.pk])
    assert result.failed() and send.call_count == 1
    notification.refresh_from_db()
    assert notification.status == "failed" and "ValueError: template bug" in notification.error


def test_it_enqueues_sending_only_after_commit(django_capture_on_commit_callbacks) -> None:
    notification = record(make_cluster("prod", owners=["owner@example.com"]))
    with mock.patch.object(send_notification, "delay") as delay:
        with django_capture_on_commit_callbacks() as callbacks:
            services.notifications_dispatch(notification_ids=[notification.pk], send_inline=False)
            delay.assert_not_called()
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(notification.pk)


def test_it_sends_one_daily_digest_per_recipient(admin) -> None:
    cluster = make_cluster("prod")
    Subscription.objects.create(user=admin.user, cluster=None, delivery="digest")
    services.notifications_record(
        regressions=[regression(cluster, key="a"), regression(cluster, key="b")]
    )
    assert services.digests_send() == 1
    assert services.digests_send() == 0
    [digest] = mail.outbox
    assert digest.to == ["ada@example.com"] and "2 regression(s) on prod" in digest.subject
    assert "/alerts/unsubscribe/" in digest.body
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_it_emails_owners_once_when_collections_keep_failing(settings) -> None:
    settings.RAMPART_ALERT_FAILED_RUNS = 3
    cluster = make_cluster(
        "edge", source_kind=Cluster.SourceKind.BUNDLE, owners=["owner@example.com"]
    )
    for attempt in range(4):
        run = CollectionRun.objects.create(
            cluster=cluster,
            trigger=CollectionRun.Trigger.SCHEDULE,
            created_at=timezone.now() + timedelta(minutes=attempt),
        )
        finished = collection_execute(run_id=run.pk, send_alerts_inline=True)
        assert finished is not None and finished.status == "failed"
        assert len(mail.outbox) == (0 if attempt < 2 else 1)
    assert mail.outbox[0].subject == "[Rampart] edge: 3 collections in a row failed"
    assert "no evidence bundle" in mail.outbox[0].body


def test_it_emails_owners_once_when_a_live_clusters_data_is_stale(settings) -> None:
    cluster = make_cluster(
        "prod", owners=["owner@example.com"], created_at=timezone.now() - timedelta(days=3)
    )
    make_cluster(
        "lab",
        owners=["owner@example.com"],
        schedule_enabled=False,
        created_at=timezone.now() - timedelta(days=3),
    )
    with mock.patch.object(send_notification, "delay"):
        first = services.clusters_check_stale()
        assert services.clusters_check_stale() == first
    assert Notification.objects.get().cluster == cluster
    assert Notification.objects.get().kind == "data_stale"
