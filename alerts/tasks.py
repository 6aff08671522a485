"""Celery tasks of the alerts app: thin, take ids, call one service.

Sending retries only SMTP and network errors (delivery.TRANSIENT_ERRORS), with exponential
backoff, full jitter and a cap; anything else is a bug, recorded on the notification and raised.
"""

from __future__ import annotations

import random

from celery import Task, shared_task

from alerts import approvals, delivery, services
from alerts.models import Notification

MAX_RETRIES = 5
# Sending one email takes seconds (EMAIL_TIMEOUT 20 s); a task running longer is stuck.
SEND_SOFT_TIME_LIMIT = 60
SEND_TIME_LIMIT = 90


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped at ten minutes."""
    return random.uniform(0, min(600.0, 15.0 * 2**retries))


@shared_task(
    bind=True,
    name="alerts.tasks.send_notification",
    max_retries=MAX_RETRIES,
    soft_time_limit=SEND_SOFT_TIME_LIMIT,
    time_limit=SEND_TIME_LIMIT,
)
def send_notification(self: Task, notification_id: int) -> str:
    if not Notification.objects.filter(pk=notification_id).exists():
        return "gone"
    try:
        sent = delivery.notification_send(notification_id=notification_id)
    except delivery.TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            delivery.notification_fail(
                notification_id=notification_id,
                error=f"gave up after {MAX_RETRIES + 1} attempts: {type(exc).__name__}: {exc}",
            )
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    return "sent" if sent else "not claimed"


@shared_task(name="alerts.tasks.send_daily_digests")
def send_daily_digests() -> int:
    return delivery.digests_send()


@shared_task(name="alerts.tasks.check_stale_data")
def check_stale_data() -> int:
    return len(services.clusters_check_stale())


@shared_task(name="alerts.tasks.requeue_stuck_notifications")
def requeue_stuck_notifications() -> int:
    return len(delivery.notifications_requeue_stuck())


@shared_task(name="alerts.tasks.check_expiries")
def check_expiries() -> int:
    """Waivers and attestations about to expire or just expired; returns notifications to send."""
    return len(services.expiries_check())


@shared_task(name="alerts.tasks.notify_waiver_events")
def notify_waiver_events() -> int:
    """Waiver requests to those who may approve them, decisions to their requesters."""
    return len(approvals.waiver_events_notify())
