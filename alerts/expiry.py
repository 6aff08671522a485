"""Waivers and attestations about to expire, or just expired: read for one cluster's collection
(its email has a section for them) and by the periodic scan (services.expiries_check, hourly),
which emails each cluster's recipients what no collection told them yet.

Reads are here, the rule is expiry_rules.detect_expiries, recording and sending are the common
path of services. Running the scan again, or twice at once, records nothing new: each
regression's dedup key names the waiver or attestation, the kind and the expiry date, and each
is told to each recipient once (NotificationEntry), whichever email carried it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

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
from posture.checks.base import REGISTRY
from posture.guides import guides, verdict_key_check


def default_severity() -> str:
    """For an attestation of a purely manual control (no check to borrow a severity from), and
    a waiver of a check the catalog no longer has: the configured severity of alerts that have
    none of their own, so the floor lets them through unless told otherwise."""
    return str(settings.RAMPART_ALERT_CLUSTER_SEVERITY)


def expiry_regressions(
    *, now: datetime, cluster_ids: list[int] | None = None
) -> dict[int, list[Regression]]:
    """Per cluster (all, or those given): its waivers and attestations expiring at `now`."""
    waivers = _waiver_snapshots(now, cluster_ids)
    attestations = _attestation_snapshots(now, cluster_ids)
    if not (waivers or attestations):
        return {}
    clusters = Cluster.objects.filter(pk__in={*waivers, *attestations}).values_list("pk", "name")
    return {
        cluster_id: detect_expiries(
            cluster_id=cluster_id,
            cluster_name=cluster_name,
            waivers=waivers.get(cluster_id, []),
            attestations=attestations.get(cluster_id, []),
            now=now,
        )
        for cluster_id, cluster_name in clusters
    }


def person_name(user: object | None) -> str:
    if user is None:
        return ""
    full_name = getattr(user, "get_full_name", lambda: "")()
    return str(full_name or getattr(user, "get_username", lambda: "")())


def _waiver_snapshots(
    now: datetime, cluster_ids: list[int] | None
) -> dict[int, list[WaiverSnapshot]]:
    """Per cluster: approved, unrevoked waivers inside the window, and the later ones of the
    same checks that may have renewed them."""
    approved = Waiver.objects.filter(approved_at__isnull=False, revoked_at__isnull=True)
    if cluster_ids is not None:
        approved = approved.filter(cluster_id__in=cluster_ids)
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
                severity=check.severity.value if check else default_severity(),
                expires_at=timezone.localtime(waiver.expires_at),
                approved=True,
                revoked=False,
                reason=waiver.reason,
                owner_email=waiver.owner_email,
                approved_by=person_name(waiver.approved_by),
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


def _attestation_snapshots(
    now: datetime, cluster_ids: list[int] | None
) -> dict[int, list[AttestationSnapshot]]:
    """Per cluster: unrevoked attestations lapsing inside the window (by date: the detection
    compares the exact moment), and later ones of the same items that renewed them."""
    first_day = timezone.localdate(now - EXPIRY_LOOKBACK) - timedelta(days=1)
    last_day = timezone.localdate(now + EXPIRY_WARN_BEFORE)
    current = Attestation.objects.filter(revoked_at__isnull=True).select_related(
        "cluster", "attested_by"
    )
    if cluster_ids is not None:
        current = current.filter(cluster_id__in=cluster_ids)
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
                severity=max(severities, key=rank, default=default_severity()),
                reattest_by=attestation.reattest_by,
                lapses_at=_lapses_at(attestation),
                revoked=False,
                justification=attestation.justification,
                attested_by=person_name(attestation.attested_by),
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
