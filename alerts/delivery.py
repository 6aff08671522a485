"""Sending recorded notifications: claim, send, record; digests; the stuck-send sweep.

Delivery is at-least-once with a stable Message-ID. The unique (recipient, dedup key)
constraint makes the *decision* to email exactly-once (services.notifications_record); the
compare-and-swap claim here makes a retried or duplicated task send nothing twice. The one
window left is a worker dying after the SMTP server accepted a message and before the row says
`sent`: the row stays `sending`, and `notifications_requeue_stuck` sends it again after
RAMPART_ALERT_SEND_TIMEOUT_MINUTES. We choose that over at-most-once (marking such rows failed)
because a lost security alert costs more than a rare duplicate, which clients that deduplicate
by Message-ID even hide.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts import messages
from alerts.models import Notification, Subscription

logger = logging.getLogger(__name__)

# The only errors worth retrying: the SMTP server or the network, not our templates or data.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPException,
    ConnectionError,
    TimeoutError,
    OSError,
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
    """One email per recipient with every pending digest notification, grouped by cluster and
    occasion. Returns emails sent."""
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


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
