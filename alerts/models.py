"""Who wants to hear about regressions, and every email Rampart decided to send.

A Notification is one email to one recipient about one occasion (a collection of a cluster, a
streak of failed collections, a scan for stale data or expiries, a waiver request or decision);
its dedup key names the occasion, so each recipient gets one email per occasion. Each
regression it tells of is a NotificationEntry, unique per recipient and regression: a
regression that a later occasion finds again (an expiry seen by the hourly scan after a
collection told of it) is told once. Notifications recorded before grouping hold one regression
each (their dedup key is the regression's) and read as before.

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

from alerts.regressions import Kind, OccasionKind


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
    WAIVER_REQUESTED = "waiver_requested"
    WAIVER_APPROVED = "waiver_approved"
    WAIVER_REVOKED = "waiver_revoked"
    WAIVER_KINDS = {
        WAIVER_REQUESTED: "Waiver requested",
        WAIVER_APPROVED: "Waiver approved",
        WAIVER_REVOKED: "Waiver revoked",
    }
    # Occasions (what new notifications are about), then the single regressions older ones
    # are about; two names are both.
    KIND_CHOICES = list(
        {
            **{kind.value: kind.label for kind in OccasionKind},
            **WAIVER_KINDS,
            **{kind.value: kind.label for kind in Kind},
            TEST_KIND: "Test email",
        }.items()
    )

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
    severity = models.CharField(max_length=10, blank=True)  # its most severe regression's
    dedup_key = models.CharField(max_length=200)  # the occasion's
    subject = models.CharField(max_length=250)
    # What the email says (alerts.summaries: sections of regressions); rendered at send time.
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
            # Exactly one email per occasion per recipient, whatever retries happen.
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


class NotificationEntry(models.Model):
    """One regression told to one recipient, in the notification that told it."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="entries")
    recipient = models.EmailField()
    dedup_key = models.CharField(max_length=200)  # the regression's
    kind = models.CharField(max_length=30, choices=Notification.KIND_CHOICES)
    severity = models.CharField(max_length=10, blank=True)

    class Meta:
        constraints = [
            # Each regression is told to each recipient once, in whichever occasion found it
            # first; the unique index is also what "already told?" reads.
            models.UniqueConstraint(
                fields=["recipient", "dedup_key"], name="one_entry_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.dedup_key}"


class AuditCursor(models.Model):
    """How far a periodic reader of the audit log has got: every event `at` or before
    `read_until` has been handled (alerts.approvals)."""

    name = models.CharField(max_length=60, unique=True)
    read_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} read until {self.read_until:%Y-%m-%d %H:%M:%S}"
