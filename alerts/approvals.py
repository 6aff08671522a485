"""Waiver requests to the people who may approve them, and each decision to whoever asked.

The compliance app sits below alerts and must not call up into it, so it does not send these:
it records every request and decision in its audit log (AuditEvent `waiver.request`,
`waiver.approve`, `waiver.revoke`), and this reader, run every minute by beat
(alerts.tasks.notify_waiver_events), turns each new event into emails:

    waiver.request   every active user holding compliance.approve_waiver, with an email
                     address, other than the requester (who may not approve their own); nobody
                     once the waiver is no longer pending (someone was quicker)
    waiver.approve   the requester
    waiver.revoke    the requester, unless they revoked it themselves ("declined" when it was
                     still pending)

Exactly-once as everywhere in alerts (services.email_record): each email's dedup key names the
event, so an event read twice, or by two readers at once, is emailed once. The cursor
(AuditCursor) only spares re-reading the whole log: it holds the time read up to, and each pass
reads from OVERLAP before it, because an event is stamped when its transaction starts and
becomes visible when it commits, so a slow transaction can commit an event stamped before the
previous pass. Events stamped before the cursor was created (the migration) are not news.

These are not regressions: the severity floor does not apply and no subscription is needed;
they go to the people who must act, whatever the check's severity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts import delivery, services
from alerts.expiry import person_name
from alerts.models import AuditCursor, Notification
from compliance.approvals import approvers as waiver_approvers
from compliance.models import AuditEvent, Waiver
from posture.checks.base import REGISTRY

CURSOR = "waiver-notifications"  # created by migration alerts.0005
OVERLAP = timedelta(minutes=10)
KINDS = {
    "waiver.request": Notification.WAIVER_REQUESTED,
    "waiver.approve": Notification.WAIVER_APPROVED,
    "waiver.revoke": Notification.WAIVER_REVOKED,
}
TEXT_LIMIT = 500  # characters of a reason quoted in an email


@dataclass(frozen=True)
class WaiverNotice:
    """One audit event told to one person: what its notification entry records."""

    dedup_key: str
    kind: str
    severity: str


def waiver_events_notify(*, now: datetime | None = None) -> list[int]:
    """Record the emails of the waiver events since the last pass and enqueue them after
    commit; ids of those to send."""
    now = now or timezone.now()
    with transaction.atomic():
        AuditCursor.objects.get_or_create(name=CURSOR, defaults={"read_until": now})
        # Two passes at once (a slow one and the next tick) take turns here.
        cursor = AuditCursor.objects.select_for_update().get(name=CURSOR)
        events = list(
            AuditEvent.objects.filter(
                action__in=KINDS, at__gt=cursor.read_until - OVERLAP, at__lte=now
            ).order_by("at", "id")
        )
        waivers = Waiver.objects.select_related(
            "cluster", "requested_by", "approved_by", "revoked_by"
        ).in_bulk([int(e.object_id) for e in events if e.object_id.isdigit()])
        keys = []
        for event in events:
            waiver = waivers.get(int(event.object_id)) if event.object_id.isdigit() else None
            if waiver is None:
                continue  # its cluster was deleted since
            key = f"audit:{event.pk}:{event.action}"
            keys.append(key)
            notice = WaiverNotice(key, KINDS[event.action], _severity(waiver))
            for user in _recipients(event, waiver, now):
                services.email_record(
                    recipient=services.Recipient(user.email.lower(), user.pk),
                    kind=notice.kind,
                    cluster_id=waiver.cluster_id,
                    key=key,
                    items=[notice],
                    compose=partial(_compose, event, waiver),
                )
        if now > cursor.read_until:
            cursor.read_until = now
            cursor.save(update_fields=["read_until"])
        notification_ids = services.pending_immediate(keys=keys)
        delivery.notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    return notification_ids


def approvers(*, excluding: int | None) -> list[Any]:
    """Active users with an email address who may approve waivers, but `excluding`."""
    return [user for user in waiver_approvers(excluding=excluding) if user.email]


def _recipients(event: AuditEvent, waiver: Waiver, now: datetime) -> list[Any]:
    if event.action == "waiver.request":
        if waiver.state(now=now) != Waiver.State.PENDING:
            return []  # approved, revoked or expired already: nothing left to ask
        return approvers(excluding=waiver.requested_by_id)
    requester = waiver.requested_by
    if requester is None or not requester.is_active or not requester.email:
        return []
    if event.actor_id == requester.pk:
        return []  # they revoked their own request: they know
    return [requester]


def _severity(waiver: Waiver) -> str:
    check = REGISTRY.get(waiver.check_id)
    return check.severity.value if check else ""


def _compose(
    event: AuditEvent, waiver: Waiver, items: Sequence[WaiverNotice]
) -> tuple[str, dict[str, Any]]:
    check = REGISTRY.get(waiver.check_id)
    title = check.title if check else waiver.check_id
    cluster = waiver.cluster.name
    actor = person_name(event.actor) if event.actor_id else event.actor_name or "Rampart"
    requester = person_name(waiver.requested_by) or "someone"
    expires = _moment(waiver.expires_at)
    what = f"{title} ({waiver.check_id}{f', {check.severity}' if check else ''})"
    scope = _scope(waiver)
    kind = KINDS[event.action]
    link = reverse("waiver_list", kwargs={"name": cluster}) + f"#waiver-{waiver.pk}"
    if kind == Notification.WAIVER_REQUESTED:
        headline = f"{requester} asks to waive {title}"
        intro = (
            f"{requester} asks to accept the risk of {what} on {cluster} until {expires}. The "
            f"waiver applies once someone other than {requester} approves it, and you may: "
            "review the reason and the affected objects, then approve it or revoke it."
        )
        link_label = "Review the waiver request"
    elif kind == Notification.WAIVER_APPROVED:
        headline = f"your waiver of {title} was approved by {actor}"
        intro = (
            f"{actor} approved your waiver of {what}. Until {expires} what it covers counts "
            "as waived: it costs the score nothing, and the pages mark it so."
        )
        link_label = "See the waiver"
    elif (event.before or {}).get("approved_at"):
        headline = f"your waiver of {title} was revoked by {actor}"
        intro = (
            f"{actor} revoked your waiver of {what}: what it covered counts against the "
            "score again. Fix the affected objects, or request a new waiver."
        )
        link_label = "See the waiver"
    else:
        headline = f"your waiver request for {title} was declined by {actor}"
        intro = (
            f"{actor} revoked your waiver request for {what} before anyone approved it: it "
            "never applied."
        )
        link_label = "See the waiver"
    facts = [
        ("Check", f"{title} ({waiver.check_id})"),
        ("Scope", scope),
        ("Reason", _quote(waiver.reason)),
        ("Risk owner", waiver.owner_email),
        ("Expires", expires),
        ("Requested by", f"{requester} on {_moment(waiver.requested_at)}"),
    ]
    if kind != Notification.WAIVER_REQUESTED:
        facts.append(
            (
                "Approved by" if kind == Notification.WAIVER_APPROVED else "Revoked by",
                f"{actor} on {_moment(event.at)}",
            )
        )
    payload = {
        "format": 2,
        "kind": kind,
        "kind_label": Notification.WAIVER_KINDS[kind],
        "cluster": cluster,
        "severity": _severity(waiver),
        "headline": headline,
        "intro": intro,
        "facts": [list(fact) for fact in facts if fact[1]],
        "link": link,
        "link_label": link_label,
        "event": event.pk,
    }
    return f"[Rampart] {cluster}: {headline}", payload


def _scope(waiver: Waiver) -> str:
    parts = []
    if waiver.namespaces:
        parts.append("namespace(s) " + ", ".join(waiver.namespaces))
    if waiver.workloads:
        parts.append(", ".join(waiver.workloads))
    return "; ".join(parts) or "every object it fails on"


def _moment(value: datetime) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z}".strip()


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
