"""Waivers and attestations about to expire, or just expired: the periodic scan that turns them
into notifications (alerts.tasks.check_expiries, hourly).

Reads are here, the rule is expiry_rules.detect_expiries, recording and sending are the common
path of services. Running the scan again, or twice at once, records nothing new: each
regression's dedup key names the waiver or attestation, the kind and the expiry date.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from alerts import services
from alerts.expiry_rules import (
    EXPIRY_LOOKBACK,
    EXPIRY_WARN_BEFORE,
    AttestationSnapshot,
    WaiverSnapshot,
    detect_expiries,
)
from alerts.regressions import Regression, rank
from clusters.models import Cluster
from compliance.models import Attestation, Waiver
from posture.checks.base import REGISTRY, Severity
from posture.guides import guides, verdict_key_check

# For an attestation of a purely manual control (no check to borrow a severity from), and a
# waiver of a check the catalog no longer has.
DEFAULT_SEVERITY = Severity.MEDIUM.value


def expiries_check(*, now: datetime | None = None) -> list[int]:
    """Record and enqueue the expiry notifications due at `now`; ids of those to send now."""
    now = now or timezone.now()
    waivers = _waiver_snapshots(now)
    attestations = _attestation_snapshots(now)
    clusters = Cluster.objects.filter(pk__in={*waivers, *attestations}).values_list("pk", "name")
    regressions: list[Regression] = []
    for cluster_id, cluster_name in clusters:
        regressions += detect_expiries(
            cluster_id=cluster_id,
            cluster_name=cluster_name,
            waivers=waivers.get(cluster_id, []),
            attestations=attestations.get(cluster_id, []),
            now=now,
        )
    with transaction.atomic():
        notification_ids = services.notifications_record(regressions=regressions)
        services.notifications_dispatch(notification_ids=notification_ids, send_inline=False)
    return notification_ids


def _person(user: object | None) -> str:
    if user is None:
        return ""
    full_name = getattr(user, "get_full_name", lambda: "")()
    return str(full_name or getattr(user, "get_username", lambda: "")())


def _waiver_snapshots(now: datetime) -> dict[int, list[WaiverSnapshot]]:
    """Per cluster: approved, unrevoked waivers inside the window, and the later ones of the
    same checks that may have renewed them."""
    approved = Waiver.objects.filter(approved_at__isnull=False, revoked_at__isnull=True)
    due = list(
        approved.filter(
            expires_at__gt=now - EXPIRY_LOOKBACK, expires_at__lte=now + EXPIRY_WARN_BEFORE
        ).select_related("cluster", "approved_by")
    )
    if not due:
        return {}
    later = approved.filter(
        expires_at__gt=now + EXPIRY_WARN_BEFORE,
        cluster_id__in={w.cluster_id for w in due},
        check_id__in={w.check_id for w in due},
    ).select_related("cluster", "approved_by")
    found: dict[int, list[WaiverSnapshot]] = defaultdict(list)
    for waiver in [*due, *later]:
        check = REGISTRY.get(waiver.check_id)
        found[waiver.cluster_id].append(
            WaiverSnapshot(
                waiver_id=waiver.pk,
                check_id=waiver.check_id,
                check_title=check.title if check else waiver.check_id,
                severity=check.severity.value if check else DEFAULT_SEVERITY,
                expires_at=timezone.localtime(waiver.expires_at),
                approved=True,
                revoked=False,
                reason=waiver.reason,
                owner_email=waiver.owner_email,
                approved_by=_person(waiver.approved_by),
                approved_at=timezone.localtime(waiver.approved_at),
                namespaces=tuple(waiver.namespaces),
                workloads=tuple(waiver.workloads),
                link=reverse("waiver_list", kwargs={"name": waiver.cluster.name})
                + f"#waiver-{waiver.pk}",
            )
        )
    return found


def _lapses_at(attestation: Attestation) -> datetime:
    # Attestation.state: lapsed once the site's today is past `reattest_by`.
    next_day = attestation.reattest_by + timedelta(days=1)
    return datetime.combine(next_day, time.min, tzinfo=timezone.get_current_timezone())


def _attestation_snapshots(now: datetime) -> dict[int, list[AttestationSnapshot]]:
    """Per cluster: unrevoked attestations lapsing inside the window (by date: the detection
    compares the exact moment), and later ones of the same items that renewed them."""
    first_day = timezone.localdate(now - EXPIRY_LOOKBACK) - timedelta(days=1)
    last_day = timezone.localdate(now + EXPIRY_WARN_BEFORE)
    current = Attestation.objects.filter(revoked_at__isnull=True).select_related(
        "cluster", "attested_by"
    )
    due = list(current.filter(reattest_by__gte=first_day, reattest_by__lte=last_day))
    if not due:
        return {}
    same_items = Q()
    for attestation in due:
        same_items |= Q(
            cluster_id=attestation.cluster_id,
            guide=attestation.guide,
            item_id=attestation.item_id,
        )
    later = current.filter(same_items, reattest_by__gt=last_day)
    found: dict[int, list[AttestationSnapshot]] = defaultdict(list)
    for attestation in [*due, *later]:
        guide = guides().get(attestation.guide)
        item = guide.item(attestation.item_id) if guide else None
        severities = (
            [
                REGISTRY[check_id].severity.value
                for check_id in map(verdict_key_check, item.checks)
                if check_id in REGISTRY
            ]
            if item
            else []
        )
        found[attestation.cluster_id].append(
            AttestationSnapshot(
                attestation_id=attestation.pk,
                guide=attestation.guide,
                item_id=attestation.item_id,
                item_title=item.title if item else attestation.item_id,
                severity=max(severities, key=rank, default=DEFAULT_SEVERITY),
                reattest_by=attestation.reattest_by,
                lapses_at=_lapses_at(attestation),
                revoked=False,
                justification=attestation.justification,
                attested_by=_person(attestation.attested_by),
                attested_at=timezone.localtime(attestation.attested_at),
                evidence_link=attestation.evidence_link,
                link=reverse(
                    "checklist_item",
                    kwargs={
                        "name": attestation.cluster.name,
                        "guide": attestation.guide,
                        "item_id": attestation.item_id,
                    },
                ),
            )
        )
    return found
