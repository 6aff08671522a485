"""A guide's checklist for one cluster: every item with one status and the reason for it.

    not_applicable  superseded, provider-owned on this distribution, or for another provider
    fail            a check judging the item fails (waived objects are marked)
    unknown         a check could not judge (data not collected / forbidden / not evaluated)
    waived          every failing check is waived by an active waiver
    pass            every judging check passes (or is not applicable)
    attested        a manual item with a current attestation
    manual          a manual item awaiting an attestation (or whose last one lapsed)

A manual item that also has checks is judged by them; only when none of them could judge it
(provider data not collected) does it fall back to the attestation, as DESIGN.md says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from clusters.models import Cluster
from compliance.guides import Guide, Item, guides
from compliance.models import Attestation
from compliance.services import EffectiveResult, effective_results
from posture.checks.base import REGISTRY, Check, Status

PASS = "pass"  # noqa: S105  (a status, not a password)
FAIL = "fail"
MANUAL = "manual"
ATTESTED = "attested"
WAIVED = "waived"
NOT_APPLICABLE = "not_applicable"
UNKNOWN = "unknown"
STATUS_LABELS = {
    PASS: "Pass",
    FAIL: "Fail",
    MANUAL: "Manual — awaiting attestation",
    ATTESTED: "Attested",
    WAIVED: "Waived",
    NOT_APPLICABLE: "Not applicable",
    UNKNOWN: "Unknown",
}
STATUS_ORDER = [FAIL, UNKNOWN, MANUAL, WAIVED, ATTESTED, PASS, NOT_APPLICABLE]


def cluster_distribution(cluster: Cluster) -> str:
    """ "gke", "other" (a known non-GKE build) or "" (not collected yet: assume nothing)."""
    run = cluster.latest_evaluation.run if cluster.latest_evaluation else cluster.latest_run
    version = run.kubernetes_version if run else ""
    if not version:
        return ""
    return "gke" if "-gke." in version else "other"


@dataclass
class CheckRow:
    check_id: str
    check: Check | None
    result: EffectiveResult | None
    url: str = ""  # set by the view that links to it


@dataclass
class ItemRow:
    item: Item
    status: str
    reason: str = ""
    checks: list[CheckRow] = field(default_factory=list)
    attestation: Attestation | None = None
    attestations: list[Attestation] = field(default_factory=list)
    url: str = ""  # set by the view that links to it

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def attestable(self) -> bool:
        return self.status in (MANUAL, ATTESTED)

    @property
    def failing_checks(self) -> list[CheckRow]:
        return [row for row in self.checks if row.result and row.result.raw_status == FAIL]


@dataclass
class ClusterState:
    """What every checklist of one cluster reads, fetched once."""

    cluster: Cluster
    now: datetime
    distribution: str
    results: dict[str, EffectiveResult]
    attestations: dict[tuple[str, str], list[Attestation]]
    evaluated: bool

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)


def cluster_state(cluster: Cluster, *, now: datetime | None = None) -> ClusterState:
    now = now or timezone.now()
    evaluation = cluster.latest_evaluation
    results = {r.check_id: r for r in effective_results(evaluation, now=now)} if evaluation else {}
    attestations: dict[tuple[str, str], list[Attestation]] = {}
    for attestation in Attestation.objects.for_cluster(cluster).select_related(
        "attested_by", "revoked_by"
    ):
        attestations.setdefault((attestation.guide, attestation.item_id), []).append(attestation)
    return ClusterState(
        cluster=cluster,
        now=now,
        distribution=cluster_distribution(cluster),
        results=results,
        attestations=attestations,
        evaluated=evaluation is not None,
    )


def _unknown_reason(rows: list[CheckRow], evaluated: bool) -> str:
    if not evaluated:
        return "The cluster has not been collected yet."
    reasons = []
    for row in rows:
        if row.result is None:
            reasons.append(f"{row.check_id}: not evaluated in the latest collection")
        elif row.result.status in (Status.UNKNOWN, Status.ERROR):
            reasons.append(f"{row.check_id}: {row.result.summary or row.result.status}")
    return "; ".join(reasons)


def item_row(guide: Guide, item: Item, state: ClusterState) -> ItemRow:
    history = state.attestations.get((guide.slug, item.id), [])
    current = next(
        (a for a in history if a.state(today=state.today) == Attestation.State.ACTIVE), None
    )
    rows = [CheckRow(c, REGISTRY.get(c), state.results.get(c)) for c in item.checks]
    row = ItemRow(item=item, status=UNKNOWN, checks=rows, attestations=history)
    reason = item.not_applicable_reason(guide, state.distribution)
    if reason:
        row.status, row.reason = NOT_APPLICABLE, reason
        return row
    statuses = [r.result.status if r.result else UNKNOWN for r in rows]
    judged = [s for s in statuses if s not in (Status.UNKNOWN, Status.ERROR)]
    if rows and (judged or not item.manual):
        if FAIL in statuses:
            row.status = FAIL
            row.reason = "; ".join(
                f"{r.check_id}: {r.result.summary}"
                for r in rows
                if r.result and r.result.status == FAIL
            )
        elif len(judged) < len(statuses):
            row.status, row.reason = UNKNOWN, _unknown_reason(rows, state.evaluated)
        elif WAIVED in statuses:
            row.status = WAIVED
            row.reason = "Accepted risk until " + ", ".join(
                sorted(
                    {f"{w.expires_at:%Y-%m-%d}" for r in rows if r.result for w in r.result.waivers}
                )
            )
        elif all(s == Status.NOT_APPLICABLE for s in statuses):
            row.status = NOT_APPLICABLE
            row.reason = "; ".join(r.result.summary for r in rows if r.result and r.result.summary)
        else:
            row.status = PASS
        return row
    # Manual: attestations decide; checks that exist but could not judge explain why.
    row.attestation = current
    if current:
        row.status = ATTESTED
        row.reason = f"Attested until {current.reattest_by:%Y-%m-%d}"
    else:
        row.status = MANUAL
        lapsed = next(
            (a for a in history if a.state(today=state.today) == Attestation.State.LAPSED), None
        )
        row.reason = (
            f"The last attestation lapsed on {lapsed.reattest_by:%Y-%m-%d}; attest again."
            if lapsed
            else f"Evidence class {item.evidence}: record an attestation."
        )
        if rows:
            row.reason += " Automated evidence unavailable: " + _unknown_reason(
                rows, state.evaluated
            )
    return row


@dataclass
class Checklist:
    guide: Guide
    sections: list[tuple[Any, list[ItemRow]]]

    @property
    def rows(self) -> list[ItemRow]:
        return [row for _, rows in self.sections for row in rows]

    def counts(self) -> list[dict[str, Any]]:
        counter = Counter(row.status for row in self.rows)
        return [
            {"status": s, "label": STATUS_LABELS[s], "count": counter[s]}
            for s in STATUS_ORDER
            if counter[s]
        ]


def checklist(guide: Guide, state: ClusterState) -> Checklist:
    return Checklist(
        guide=guide,
        sections=[
            (section, [item_row(guide, item, state) for item in section.items])
            for section in guide.sections
        ],
    )


def checklists(state: ClusterState) -> list[Checklist]:
    return [checklist(guide, state) for guide in guides().values()]
