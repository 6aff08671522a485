"""Who wants to hear about regressions, and every email Rampart decided to send.

Notification states (compare-and-swap updates; see services.notification_send):

    pending -> sending   a worker claimed it (only one can: filter(status=pending).update())
    sending -> sent      the SMTP server accepted the message
    sending -> pending   a transient SMTP/network error; the task retries with backoff
    sending -> failed    a permanent error, or retries exhausted (`error` says why)
    sending -> pending   the claiming worker died: re-queued by the beat task after a timeout
                         (at-least-once; see services.notifications_requeue_stuck)

Digest notifications stay pending until the daily digest claims them all for one recipient.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from alerts.regressions import Kind


def new_token() -> str:
    return secrets.token_urlsafe(24)


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def for_user(self, user: object) -> SubscriptionQuerySet:
        return self.filter(user=user).select_related("cluster")

    def covering(self, cluster: object) -> SubscriptionQuerySet:
        """Subscriptions to this cluster, and fleet-wide ones."""
        return self.filter(models.Q(cluster=cluster) | models.Q(cluster__isnull=True))


class Subscription(models.Model):
    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", "Immediately"
        DIGEST = "digest", "Daily digest"

    class MinSeverity(models.TextChoices):
        CRITICAL = "critical", "Critical"
        HIGH = "high", "High and above"
        MEDIUM = "medium", "Medium and above"
        LOW = "low", "Low and above"
        INFO = "info", "Everything"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        help_text="Empty: every cluster of the fleet.",
    )
    min_severity = models.CharField(
        max_length=10, choices=MinSeverity.choices, default=MinSeverity.HIGH
    )
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    # Random, never derived from the id: the signed unsubscribe link carries it.
    unsubscribe_token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["cluster__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cluster"], name="one_subscription_per_cluster"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(cluster__isnull=True),
                name="one_fleet_subscription",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.cluster or 'fleet'} ({self.min_severity}, {self.delivery})"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_log(self) -> NotificationQuerySet:
        return self.select_related("cluster").order_by("-created_at", "-id")

    def digest_pending(self) -> NotificationQuerySet:
        return self.filter(
            status=Notification.Status.PENDING, delivery=Subscription.Delivery.DIGEST
        )


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    TEST_KIND = "test"
    KIND_CHOICES = [*((kind.value, kind.label) for kind in Kind), (TEST_KIND, "Test email")]

    recipient = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The subscription (if any) that asked for it: the email's unsubscribe link.
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(max_length=30, choices=KIND_CHOICES)
    severity = models.CharField(max_length=10, blank=True)
    dedup_key = models.CharField(max_length=200)
    subject = models.CharField(max_length=250)
    # What the email says (regression title, summary, evidence); rendered at send time.
    payload = models.JSONField(default=dict)
    delivery = models.CharField(
        max_length=10,
        choices=Subscription.Delivery.choices,
        default=Subscription.Delivery.IMMEDIATE,
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("send_test_email", "Can send a test email")]
        constraints = [
            # Exactly one email per regression per recipient, whatever retries happen.
            models.UniqueConstraint(
                fields=["recipient", "dedup_key"], name="one_notification_per_recipient"
            )
        ]
        indexes = [
            # The digest and the stuck-send sweep read by status.
            models.Index(fields=["status", "delivery"], name="notification_status"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.subject} ({self.status})"
