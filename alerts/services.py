"""Writes of the alerts app: from a finished run to recorded, delivered notifications.

Delivery is at-least-once with a stable Message-ID. The unique (recipient, dedup key)
constraint makes the *decision* to email exactly-once; the compare-and-swap claim makes a
retried or duplicated task send nothing twice. The one window left is a worker dying after the
SMTP server accepted a message and before the row says `sent`: the row stays `sending`, and
`notifications_requeue_stuck` sends it again after RAMPART_ALERT_SEND_TIMEOUT_MINUTES. We
choose that over at-most-once (marking such rows failed) because a lost security alert costs
more than a rare duplicate, which clients that deduplicate by Message-ID even hide.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts import messages
from alerts.models import Notification, Subscription
from alerts.regressions import (
    OpenedFinding,
    Regression,
    RunOutcome,
    Snapshot,
    detect_evaluation,
    detect_failing_streak,
    detect_stale,
    rank,
)
from clusters.models import Cluster, ClusterOwner, CollectionRun
from posture.checks.base import REGISTRY
from posture.models import Evaluation
from posture.reconcile import reconcile_result_for

logger = logging.getLogger(__name__)

# The only errors worth retrying: the SMTP server or the network, not our templates or data.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    OSError,
)
RUN_HISTORY = 50
UNREADABLE = ("forbidden", "error")


# --- Detecting --------------------------------------------------------------------------------


def snapshot(evaluation: Evaluation) -> Snapshot:
    run = evaluation.run
    return Snapshot(
        evaluation_id=evaluation.pk,
        score=evaluation.score,
        coverage=evaluation.coverage,
        statuses=evaluation.statuses,
        unreadable={
            kind: run.kind_errors.get(kind, status)
            for kind, status in (run.kind_status or {}).items()
            if status in UNREADABLE
        },
    )


def regressions_for_evaluation(*, evaluation: Evaluation) -> list[Regression]:
    previous = (
        Evaluation.objects.for_cluster(evaluation.cluster_id)
        .filter(created_at__lte=evaluation.created_at)
        .exclude(pk=evaluation.pk)
        .select_related("run")
        .first()
    )
    reconciled = reconcile_result_for(evaluation=evaluation)
    opened = [
        OpenedFinding(
            f.check_id,
            f.severity,
            f.kind,
            f.namespace,
            f.name,
            f.detail,
            reopened=f in reconciled.reopened,
        )
        for f in reconciled.opened
    ]
    return detect_evaluation(
        cluster_id=evaluation.cluster_id,
        cluster_name=evaluation.cluster.name,
        previous=snapshot(previous) if previous else None,
        current=snapshot(evaluation),
        opened=opened,
        check_titles={check_id: check.title for check_id, check in REGISTRY.items()},
        min_severity=settings.RAMPART_ALERT_MIN_SEVERITY,
        score_drop=settings.RAMPART_ALERT_SCORE_DROP,
    )


def regressions_for_run(*, run: CollectionRun) -> list[Regression]:
    if run.status == CollectionRun.Status.FAILED:
        history = (
            CollectionRun.objects.filter(cluster_id=run.cluster_id, created_at__lte=run.created_at)
            .exclude(status__in=CollectionRun.ACTIVE_STATUSES)
            .values_list("pk", "status", "last_error")
        )
        streak = detect_failing_streak(
            cluster_id=run.cluster_id,
            cluster_name=run.cluster.name,
            runs=[RunOutcome(*row) for row in history[:RUN_HISTORY]],
            threshold=settings.RAMPART_ALERT_FAILED_RUNS,
        )
        return [streak] if streak else []
    evaluation = Evaluation.objects.filter(run=run).select_related("cluster", "run").first()
    if evaluation is None:
        return []
    return regressions_for_evaluation(evaluation=evaluation)


# --- Recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None = None
    subscription_id: int | None = None
    delivery: str = Subscription.Delivery.IMMEDIATE


def recipients_for(*, cluster_id: int, severity: str) -> list[Recipient]:
    """Owners of the cluster (every regression), then subscribers whose threshold it meets."""
    found: dict[str, Recipient] = {}
    for email in ClusterOwner.objects.filter(cluster_id=cluster_id).values_list("email", flat=True):
        found.setdefault(email.lower(), Recipient(email.lower()))
    subscriptions = (
        Subscription.objects.covering(cluster_id)
        .filter(user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
        .order_by("delivery", "id")  # "digest" < "immediate": immediate overrides below
    )
    for subscription in subscriptions:
        user = subscription.user
        if rank(severity) < rank(subscription.min_severity):
            continue
        if not user.has_perm("clusters.view_cluster"):
            continue  # lost their role since subscribing: they may no longer see the cluster
        email = user.email.lower()
        current = found.get(email)
        if current is None or (
            current.subscription_id and subscription.delivery == Subscription.Delivery.IMMEDIATE
        ):
            found[email] = Recipient(email, user.pk, subscription.pk, subscription.delivery)
    return list(found.values())


def notifications_record(*, regressions: Iterable[Regression]) -> list[int]:
    """Record one notification per regression per recipient; ids of those to send now.

    Idempotent: recording the same regressions again creates nothing and returns the ids that
    are still pending, so a repeated call can only re-enqueue, never duplicate.
    """
    rows = []
    keys = set()
    for regression in regressions:
        keys.add(regression.dedup_key)
        subject = f"[Rampart] {regression.cluster_name}: {regression.title}"[:250]
        for recipient in recipients_for(
            cluster_id=regression.cluster_id, severity=regression.severity
        ):
            rows.append(
                Notification(
                    recipient=recipient.email,
                    user_id=recipient.user_id,
                    subscription_id=recipient.subscription_id,
                    cluster_id=regression.cluster_id,
                    kind=regression.kind.value,
                    severity=regression.severity,
                    dedup_key=regression.dedup_key[:200],
                    subject=subject,
                    payload=regression.as_payload(),
                    delivery=recipient.delivery,
                )
            )
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        Notification.objects.filter(
            dedup_key__in=keys,
            status=Notification.Status.PENDING,
            delivery=Subscription.Delivery.IMMEDIATE,
        ).values_list("pk", flat=True)
    )


def notifications_dispatch(*, notification_ids: list[int], send_inline: bool) -> None:
    """Send now in this process (the `collect --sync` path), or enqueue after commit."""
    from alerts.tasks import send_notification

    for notification_id in notification_ids:
        if send_inline:
            try:
                notification_send(notification_id=notification_id)
                continue
            except TRANSIENT_ERRORS as exc:
                logger.warning("notification %s: %s; the worker retries", notification_id, exc)
        transaction.on_commit(partial(send_notification.delay, notification_id))


def alerts_for_run(*, run_id: int, send_inline: bool = False) -> list[int]:
    """Detect the run's regressions, record their notifications and send or enqueue them."""
    run = CollectionRun.objects.select_related("cluster").filter(pk=run_id).first()
    if run is None:
        return []
    with transaction.atomic():
        notification_ids = notifications_record(regressions=regressions_for_run(run=run))
        if not send_inline:
            notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    if send_inline:
        notifications_dispatch(notification_ids=notification_ids, send_inline=True)
    return notification_ids


def clusters_check_stale(*, now: datetime | None = None) -> list[int]:
    """Live, scheduled clusters without a fresh evaluation: record and enqueue their alerts."""
    now = now or timezone.now()
    hours = settings.RAMPART_ALERT_STALE_HOURS
    regressions = []
    clusters = Cluster.objects.filter(
        schedule_enabled=True,
        source_kind__in=[Cluster.SourceKind.KUBECONFIG, Cluster.SourceKind.IN_CLUSTER],
        created_at__lte=now - timedelta(hours=hours),
    ).select_related("latest_evaluation")
    for cluster in clusters:
        evaluation = cluster.latest_evaluation
        age = (now - evaluation.created_at).total_seconds() / 3600 if evaluation else None
        regression = detect_stale(
            cluster_id=cluster.pk,
            cluster_name=cluster.name,
            evaluation_id=evaluation.pk if evaluation else None,
            age_hours=age,
            threshold_hours=hours,
        )
        if regression:
            regressions.append(regression)
    with transaction.atomic():
        notification_ids = notifications_record(regressions=regressions)
        notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    return notification_ids


# --- Sending ----------------------------------------------------------------------------------


def notification_claim(*, notification_id: int) -> Notification | None:
    """pending -> sending, atomically; None when someone else has it or it is finished."""
    claimed = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING
    ).update(
        status=Notification.Status.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return Notification.objects.select_related("subscription").get(pk=notification_id)


def notification_send(*, notification_id: int) -> bool:
    """Claim, send, record. False when not claimed. Transient errors put it back to pending
    and re-raise (the task retries); any other error marks it failed and re-raises."""
    notification = notification_claim(notification_id=notification_id)
    if notification is None:
        return False
    sending = Notification.objects.filter(pk=notification_id, status=Notification.Status.SENDING)
    try:
        messages.notification_message(notification).send()
    except TRANSIENT_ERRORS as exc:
        sending.update(status=Notification.Status.PENDING, error=_describe(exc))
        raise
    except Exception as exc:
        sending.update(status=Notification.Status.FAILED, error=_describe(exc))
        raise
    sending.update(status=Notification.Status.SENT, sent_at=timezone.now(), error="")
    return True


def notification_fail(*, notification_id: int, error: str) -> None:
    """Give up on a pending notification (retries exhausted); the log shows why."""
    Notification.objects.filter(
        pk=notification_id, status__in=[Notification.Status.PENDING, Notification.Status.SENDING]
    ).update(status=Notification.Status.FAILED, error=error[:2000])


def notifications_requeue_stuck(*, now: datetime | None = None) -> list[int]:
    """Rows left `sending` by a dead worker, and immediate rows never sent (a lost enqueue):
    back to pending and enqueued again. After too many attempts they fail instead."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.RAMPART_ALERT_SEND_TIMEOUT_MINUTES)
    stuck = Notification.objects.filter(status=Notification.Status.SENDING, claimed_at__lt=cutoff)
    stuck.filter(attempts__gte=settings.RAMPART_ALERT_MAX_ATTEMPTS).update(
        status=Notification.Status.FAILED,
        error="the worker was lost while sending, too many times; it may have been delivered",
    )
    with transaction.atomic():
        stuck.update(
            status=Notification.Status.PENDING,
            error="the worker was lost while sending; sending again",
        )
        notification_ids = list(
            Notification.objects.filter(
                status=Notification.Status.PENDING,
                delivery=Subscription.Delivery.IMMEDIATE,
                created_at__lt=cutoff,
            ).values_list("pk", flat=True)
        )
        notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    return notification_ids


def digests_send() -> int:
    """One email per recipient with every pending digest notification. Returns emails sent."""
    sent = 0
    recipients = set(Notification.objects.digest_pending().values_list("recipient", flat=True))
    for recipient in sorted(recipients):
        now = timezone.now()
        # Claim with a marker (this run's claim time): a concurrent digest run claims other
        # rows or none, and we send exactly the rows we claimed.
        claimed = (
            Notification.objects.digest_pending()
            .filter(recipient=recipient)
            .update(status=Notification.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        )
        if not claimed:
            continue
        batch = Notification.objects.filter(
            recipient=recipient,
            status=Notification.Status.SENDING,
            claimed_at=now,
            delivery=Subscription.Delivery.DIGEST,
        )
        ids = list(batch.values_list("pk", flat=True))
        batch = Notification.objects.filter(pk__in=ids).select_related("subscription")
        rows = list(batch.order_by("created_at", "id"))
        try:
            messages.digest_message(recipient, rows).send()
        except TRANSIENT_ERRORS as exc:
            batch.update(status=Notification.Status.PENDING, error=_describe(exc))
            logger.warning("digest to %s failed: %s; tomorrow's digest retries", recipient, exc)
            continue
        batch.update(status=Notification.Status.SENT, sent_at=timezone.now(), error="")
        sent += 1
    return sent


def test_email_record(*, recipient: str, requested_by: Any) -> Notification:
    """A test email for an admin: recorded like every other notification, sent by the task."""
    from alerts.tasks import send_notification

    now = timezone.now()
    notification = Notification.objects.create(
        recipient=recipient,
        user=requested_by if getattr(requested_by, "pk", None) else None,
        kind=Notification.TEST_KIND,
        dedup_key=f"test:{now.isoformat()}:{recipient}"[:200],
        subject="[Rampart] Test email",
        payload={"requested_by": str(requested_by)},
    )
    transaction.on_commit(lambda: send_notification.delay(notification.pk))
    return notification


# --- Subscriptions ----------------------------------------------------------------------------


def subscription_save(
    *, user: Any, cluster: Cluster | None, min_severity: str, delivery: str
) -> Subscription:
    """Subscribe (or change an existing subscription to the same cluster / the fleet)."""
    subscription, _ = Subscription.objects.update_or_create(
        user=user,
        cluster=cluster,
        defaults={"min_severity": min_severity, "delivery": delivery},
    )
    return subscription


def subscription_delete(*, user: Any, subscription_id: int) -> bool:
    deleted, _ = Subscription.objects.filter(user=user, pk=subscription_id).delete()
    return bool(deleted)


class BadUnsubscribeLink(Exception):
    pass


def unsubscribe_describe(*, token: str) -> str:
    """What the link unsubscribes from, for the confirmation page; raises BadUnsubscribeLink."""
    data = _unsigned(token)
    if "s" in data:
        subscription = (
            Subscription.objects.select_related("cluster", "user")
            .filter(unsubscribe_token=data["s"])
            .first()
        )
        if subscription is None:
            return ""
        scope = subscription.cluster.name if subscription.cluster else "the whole fleet"
        return f"{subscription.user.email}'s alerts for {scope}"
    owner = (
        ClusterOwner.objects.select_related("cluster")
        .filter(cluster_id=int(str(data.get("c"))), email=str(data.get("e")))
        .first()
    )
    return f"{owner.email}'s regression emails as an owner of {owner.cluster}" if owner else ""


def unsubscribe(*, token: str) -> bool:
    """Delete the subscription or owner registration the signed token names."""
    data = _unsigned(token)
    if "s" in data:
        deleted, _ = Subscription.objects.filter(unsubscribe_token=data["s"]).delete()
    else:
        deleted, _ = ClusterOwner.objects.filter(
            cluster_id=int(str(data.get("c"))), email=str(data.get("e"))
        ).delete()
    return bool(deleted)


def _unsigned(token: str) -> dict[str, object]:
    try:
        data = signing.loads(token, salt=messages.UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise BadUnsubscribeLink from exc
    if not isinstance(data, dict):
        raise BadUnsubscribeLink
    return data


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
