"""Writes of the alerts app: from a finished run, or a periodic scan, to recorded notifications.

One email per occasion per recipient: a collection, a streak of failed collections, a scan
for stale data or expiries is an Occasion, and its regressions that clear the recipient's
threshold travel in one notification. Two unique constraints make the *decision* exactly-once,
whatever retries or concurrent scans happen:

    Notification (recipient, dedup key)        one email per occasion and recipient: recording
                                               the same occasion again records nothing
    NotificationEntry (recipient, dedup key)   one telling per regression and recipient: an
                                               expiry a collection's email told is not told
                                               again by the hourly scan, nor a streak by each
                                               further failure

Sending is alerts.delivery (a compare-and-swap claim per notification). The severity floor,
RAMPART_ALERT_MIN_SEVERITY, applies here to every kind of regression, and each subscription's
threshold on top of it; owners hear of everything above the floor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from alerts import delivery, detection, expiry, messages, summaries
from alerts.models import Notification, NotificationEntry, Subscription
from alerts.regressions import Occasion, OccasionKind, Regression, detect_stale, meets
from clusters.models import Cluster, ClusterOwner, CollectionRun

KEY_MAX = 200  # Notification.dedup_key, NotificationEntry.dedup_key


# --- Recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None = None
    subscription_id: int | None = None
    delivery: str = Subscription.Delivery.IMMEDIATE
    min_severity: str = ""  # the subscription's threshold; "" hears everything above the floor


class Told(Protocol):
    """What a notification entry records of one item it tells (a Regression, a waiver event)."""

    @property
    def dedup_key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...


def recipients_for(*, cluster_id: int) -> list[Recipient]:
    """Owners of the cluster (every regression above the floor), then subscribers, each with
    their threshold. One address hears once: as an owner, else by its immediate subscription."""
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
        if not user.has_perm("clusters.view_cluster"):
            continue  # lost their role since subscribing: they may no longer see the cluster
        email = user.email.lower()
        current = found.get(email)
        if current is None or (
            current.subscription_id and subscription.delivery == Subscription.Delivery.IMMEDIATE
        ):
            found[email] = Recipient(
                email,
                user.pk,
                subscription.pk,
                subscription.delivery,
                subscription.min_severity,
            )
    return list(found.values())


def notifications_record(
    *, occasions: Iterable[tuple[Occasion, Sequence[Regression]]]
) -> list[int]:
    """Record one notification per occasion per recipient who has something to hear of; ids
    of those to send now.

    Idempotent: recording the same occasions again creates nothing and returns the ids that
    are still pending, so a repeated call can only re-enqueue, never duplicate.
    """
    floor = settings.RAMPART_ALERT_MIN_SEVERITY
    keys = []
    for occasion, found in occasions:
        regressions = [r for r in found if meets(r.severity, floor)]
        if not regressions:
            continue
        keys.append(occasion.key[:KEY_MAX])
        recipients = recipients_for(cluster_id=occasion.cluster_id)
        told = _told(
            recipients=[r.email for r in recipients], keys=[r.dedup_key for r in regressions]
        )
        for recipient in recipients:
            theirs = [
                r
                for r in regressions
                if meets(r.severity, recipient.min_severity)
                and (recipient.email, r.dedup_key[:KEY_MAX]) not in told
            ]
            if theirs:
                email_record(
                    recipient=recipient,
                    kind=occasion.kind.value,
                    cluster_id=occasion.cluster_id,
                    key=occasion.key,
                    items=theirs,
                    compose=partial(occasion_email, occasion),
                )
    return pending_immediate(keys=keys)


def email_record[Item: Told](
    *,
    recipient: Recipient,
    kind: str,
    cluster_id: int | None,
    key: str,
    items: Sequence[Item],
    compose: Callable[[Sequence[Item]], tuple[str, dict[str, Any]]],
) -> Notification | None:
    """Record the email `key` to `recipient` telling `items` (subject and payload from
    `compose`). None when it was recorded already, or every item was told meanwhile."""
    items = list({item.dedup_key[:KEY_MAX]: item for item in items}.values())
    subject, payload = compose(items)
    # get_or_create inserts in a savepoint and reads the row back if a concurrent recorder
    # inserted it first (the unique constraint): then it is theirs to fill, and we stop.
    notification, created = Notification.objects.get_or_create(
        recipient=recipient.email,
        dedup_key=key[:KEY_MAX],
        defaults={
            "user_id": recipient.user_id,
            "subscription_id": recipient.subscription_id,
            "cluster_id": cluster_id,
            "kind": kind,
            "severity": payload.get("severity", ""),
            "subject": subject[: summaries.SUBJECT_MAX],
            "payload": payload,
            "delivery": recipient.delivery,
        },
    )
    if not created:
        return None
    NotificationEntry.objects.bulk_create(
        [
            NotificationEntry(
                notification=notification,
                recipient=recipient.email,
                dedup_key=item.dedup_key[:KEY_MAX],
                kind=str(item.kind),
                severity=item.severity,
            )
            for item in items
        ],
        ignore_conflicts=True,
    )
    mine = set(notification.entries.values_list("dedup_key", flat=True))
    if len(mine) < len(items):
        # Another occasion recorded for this recipient concurrently and told some items first
        # (the unique index let one of us through): this email tells the rest, or nothing.
        items = [item for item in items if item.dedup_key[:KEY_MAX] in mine]
        if not items:
            notification.delete()
            return None
        subject, payload = compose(items)
        notification.subject = subject[: summaries.SUBJECT_MAX]
        notification.payload = payload
        notification.severity = payload.get("severity", "")
        notification.save(update_fields=["subject", "payload", "severity"])
    return notification


def pending_immediate(*, keys: list[str]) -> list[int]:
    if not keys:
        return []
    return list(
        Notification.objects.filter(
            dedup_key__in=keys,
            status=Notification.Status.PENDING,
            delivery=Subscription.Delivery.IMMEDIATE,
        ).values_list("pk", flat=True)
    )


def _told(*, recipients: list[str], keys: list[str]) -> set[tuple[str, str]]:
    return set(
        NotificationEntry.objects.filter(
            recipient__in=recipients, dedup_key__in=[key[:KEY_MAX] for key in keys]
        ).values_list("recipient", "dedup_key")
    )


def _digest(keys: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:24]


def occasion_email(
    occasion: Occasion, regressions: Sequence[Regression]
) -> tuple[str, dict[str, Any]]:
    """The subject and payload of `occasion`'s email telling `regressions`."""
    payload = summaries.summary_payload(occasion, regressions)
    return summaries.subject(payload), payload


# --- What happened ----------------------------------------------------------------------------


def alerts_for_run(*, run_id: int, send_inline: bool = False) -> list[int]:
    """Detect the run's regressions, record their notifications and send or enqueue them."""
    run = CollectionRun.objects.select_related("cluster").filter(pk=run_id).first()
    if run is None:
        return []
    occasion, regressions = detection.regressions_for_run(run=run)
    if occasion is None:
        return []
    with transaction.atomic():
        notification_ids = notifications_record(occasions=[(occasion, regressions)])
        if not send_inline:
            delivery.notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    if send_inline:
        delivery.notifications_dispatch(notification_ids=notification_ids, send_inline=True)
    return notification_ids


def clusters_check_stale(*, now: datetime | None = None) -> list[int]:
    """Live, scheduled clusters without a fresh evaluation: record and enqueue their alerts."""
    now = now or timezone.now()
    hours = settings.RAMPART_ALERT_STALE_HOURS
    occasions = []
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
            severity=settings.RAMPART_ALERT_CLUSTER_SEVERITY,
        )
        if regression:
            occasion = detection.occasion_of(regression, OccasionKind.DATA_STALE, at=now)
            occasions.append((occasion, [regression]))
    with transaction.atomic():
        notification_ids = notifications_record(occasions=occasions)
        delivery.notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    return notification_ids


def expiries_check(*, now: datetime | None = None) -> list[int]:
    """Waivers and attestations expiring at `now` that no email told yet: one email per
    cluster and recipient; ids of those to send now."""
    now = now or timezone.now()
    occasions = [
        (
            Occasion(
                OccasionKind.EXPIRIES,
                cluster_id,
                regressions[0].cluster_name,
                # Named by what it finds: a scan finding the same finds nothing new to tell,
                # one finding more (an expiry entering the window) is a new email of that one.
                f"cluster:{cluster_id}:expiries:{_digest(r.dedup_key for r in regressions)}",
                at=now,
            ),
            regressions,
        )
        for cluster_id, regressions in expiry.expiry_regressions(now=now).items()
        if regressions
    ]
    with transaction.atomic():
        notification_ids = notifications_record(occasions=occasions)
        delivery.notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    return notification_ids


def test_email_record(*, recipient: str, requested_by: Any) -> Notification:
    """A test email for an admin: recorded like every other notification, sent by the task."""
    from alerts.tasks import send_notification

    now = timezone.now()
    notification = Notification.objects.create(
        recipient=recipient,
        user=requested_by if getattr(requested_by, "pk", None) else None,
        kind=Notification.TEST_KIND,
        dedup_key=f"test:{now.isoformat()}:{recipient}"[:KEY_MAX],
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
