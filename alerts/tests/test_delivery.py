"""Recording and sending notifications: exactly one per occasion per recipient, each regression
told once."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from functools import partial
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from alerts import delivery, services
from alerts.models import Notification, NotificationEntry, Subscription
from alerts.regressions import Kind, Occasion, OccasionKind, Regression
from alerts.tasks import MAX_RETRIES, send_notification
from clusters.models import Cluster, CollectionRun
from clusters.tests.factories import make_cluster
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db


def regression(
    cluster: Cluster, key: str = "cluster:1:evaluation:2:new", severity: str = "high"
) -> Regression:
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
        check_title="Privileged containers",
    )


def occasion(cluster: Cluster, key: str = "cluster:1:evaluation:2") -> Occasion:
    return Occasion(OccasionKind.COLLECTION, cluster.pk, cluster.name, key)


def record_all(cluster: Cluster, *regressions: Regression, key: str = "cluster:1:evaluation:2"):
    return services.notifications_record(occasions=[(occasion(cluster, key), list(regressions))])


def record(cluster: Cluster, **kwargs: str) -> Notification:
    [notification_id] = record_all(cluster, regression(cluster, **kwargs))
    return Notification.objects.get(pk=notification_id)


def test_it_records_one_notification_per_regression_per_recipient(engineer, outsider) -> None:
    cluster = make_cluster("prod", owners=["Owner@Example.com"])
    Subscription.objects.create(user=engineer.user, cluster=None, min_severity="high")
    Subscription.objects.create(user=outsider.user, cluster=cluster, min_severity="info")
    first = record_all(cluster, regression(cluster))
    again = record_all(cluster, regression(cluster))
    assert sorted(first) == sorted(again) and len(first) == 2
    # Oscar has no role: he may not see the cluster, so his subscription gets nothing.
    assert set(Notification.objects.values_list("recipient", flat=True)) == {
        "owner@example.com",
        "erin@example.com",
    }


def test_it_tells_each_regression_once_whichever_occasion_finds_it(engineer) -> None:
    cluster = make_cluster("prod", owners=["owner@example.com"])
    expiring = regression(cluster, key="cluster:1:waiver:3:waiver_expiring:2025-03-13")
    new = regression(cluster, key="cluster:1:evaluation:2:new_findings:priv")
    # A collection's email tells of a new finding and of a waiver expiring soon...
    [collection] = record_all(cluster, new, expiring, key="cluster:1:evaluation:2")
    # ...so the hourly scan finding the same expiry has nothing to tell.
    assert record_all(cluster, expiring, key="cluster:1:expiries:abc") == []
    assert Notification.objects.get().pk == collection
    told = NotificationEntry.objects.filter(notification_id=collection)
    assert sorted(told.values_list("dedup_key", flat=True)) == sorted(
        [expiring.dedup_key, new.dedup_key]
    )


def test_it_holds_every_kind_to_the_severity_floor(settings, engineer) -> None:
    settings.RAMPART_ALERT_MIN_SEVERITY = "high"
    cluster = make_cluster("prod", owners=["owner@example.com"])
    Subscription.objects.create(user=engineer.user, cluster=None, min_severity="info")
    below = [
        Regression(kind, cluster.pk, cluster.name, "medium", f"k:{kind}", "t", "s") for kind in Kind
    ]
    assert record_all(cluster, *below) == []  # owners and an "everything" subscriber alike
    assert not Notification.objects.exists()
    at_floor = [
        Regression(kind, cluster.pk, cluster.name, "high", f"h:{kind}", "t", "s") for kind in Kind
    ]
    assert len(record_all(cluster, *at_floor, key="second")) == 2
    assert NotificationEntry.objects.filter(recipient="owner@example.com").count() == len(Kind)


def test_it_respects_each_subscribers_minimum_severity_and_delivery(engineer, admin) -> None:
    cluster = make_cluster("prod")
    Subscription.objects.create(user=engineer.user, cluster=cluster, min_severity="critical")
    Subscription.objects.create(user=admin.user, cluster=None, delivery="digest")
    assert record_all(cluster, regression(cluster)) == []
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
    assert delivery.notification_claim(notification_id=notification.pk) is not None
    assert send_notification(notification.pk) == "not claimed"  # a redelivered message
    assert delivery.notifications_requeue_stuck() == []  # not yet timed out
    later = timezone.now() + timedelta(minutes=settings.RAMPART_ALERT_SEND_TIMEOUT_MINUTES + 1)
    with (
        mock.patch.object(send_notification, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert delivery.notifications_requeue_stuck(now=later) == [notification.pk]
    delay.assert_called_once_with(notification.pk)
    assert send_notification(notification.pk) == "sent"
    assert delivery.notifications_requeue_stuck(now=later) == []
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
    assert delivery.notifications_requeue_stuck() == []
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
            delivery.notifications_dispatch(notification_ids=[notification.pk], send_inline=False)
            delay.assert_not_called()
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(notification.pk)


def test_it_sends_one_daily_digest_per_recipient(admin) -> None:
    cluster = make_cluster("prod")
    Subscription.objects.create(user=admin.user, cluster=None, delivery="digest")
    record_all(cluster, regression(cluster, key="a"), key="collection-1")
    record_all(cluster, regression(cluster, key="b"), key="collection-2")
    assert delivery.digests_send() == 1
    assert delivery.digests_send() == 0
    [digest] = mail.outbox
    assert digest.to == ["ada@example.com"]
    assert digest.subject == "[Rampart] Daily digest for prod: 2 new high findings"
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


def test_it_drops_what_a_concurrent_occasion_told_first() -> None:
    # Two occasions recording for one recipient at once both see nothing told yet; the unique
    # entry lets one through, and the other's email tells the rest, or is not sent at all.
    cluster = make_cluster("prod", owners=["owner@example.com"])
    first, second = regression(cluster, key="a"), regression(cluster, key="b")
    recipient = services.Recipient("owner@example.com")
    compose = partial(services.occasion_email, occasion(cluster, "scan-1"))
    told_first = services.email_record(
        recipient=recipient,
        kind="expiries",
        cluster_id=cluster.pk,
        key="scan-1",
        items=[first],
        compose=compose,
    )
    assert told_first is not None
    rest = services.email_record(
        recipient=recipient,
        kind="expiries",
        cluster_id=cluster.pk,
        key="scan-2",
        items=[first, second],
        compose=partial(services.occasion_email, occasion(cluster, "scan-2")),
    )
    assert rest is not None and list(rest.entries.values_list("dedup_key", flat=True)) == ["b"]
    assert rest.payload["findings"][0]["new"] == 1
    nothing = services.email_record(
        recipient=recipient,
        kind="expiries",
        cluster_id=cluster.pk,
        key="scan-3",
        items=[second],
        compose=partial(services.occasion_email, occasion(cluster, "scan-3")),
    )
    assert nothing is None
    assert sorted(Notification.objects.values_list("dedup_key", flat=True)) == ["scan-1", "scan-2"]


def test_it_warns_when_cluster_alerts_sit_below_the_floor(settings) -> None:
    from alerts.system_checks import check_cluster_severity

    settings.RAMPART_ALERT_MIN_SEVERITY = "critical"
    settings.RAMPART_ALERT_CLUSTER_SEVERITY = "high"
    [warning] = check_cluster_severity(None)
    assert warning.id == "rampart.W301"
    settings.RAMPART_ALERT_CLUSTER_SEVERITY = "critical"
    assert check_cluster_severity(None) == []
