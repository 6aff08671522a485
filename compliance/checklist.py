"""A guide's checklist for one cluster, as the stored verdict has it.

Each item's status was decided once, when the cluster's latest evaluation was derived
(posture.checklist.item_status: by exactly the checks and controls it names, or by its
attestation). This module gathers what the pages show beside it: the sentence explaining it
(posture.checklist.item_reason, from the stored facts), the judging checks' stored verdicts and
evidence, the attestations on record, links.

    not_applicable  superseded, provider-owned on this distribution, or for another provider
    fail            a check or control judging the item fails (waived objects are marked)
    unknown         a check could not judge (data not collected / forbidden / not evaluated)
    waived          every failing check is waived by an active waiver
    pass            every judging check passes (or is not applicable)
    attested        a manual item with a current attestation
    manual          a manual item awaiting an attestation (or whose last one lapsed)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from clusters.models import Cluster
from compliance.models import Attestation
from posture.checklist import AttestationTerms, item_reason
from posture.checks.base import REGISTRY, Check
from posture.guides import (
    Guide,
    Item,
    guides_for,
    primary_guides,
    run_distribution,
    verdict_key_check,
)
from posture.models import Evaluation
from posture.status import Status
from posture.verdicts import CheckView, StoredEntries, check_views, control_view, stored_entries

NOT_COLLECTED = "The cluster has not been collected yet."


@dataclass
class CheckRow:
    key: str  # a check id, or check/control
    check: Check | None
    result: CheckView | None
    url: str = ""  # set by the view that links to it
    waivers: list[Any] = field(default_factory=list)  # the Waiver rows applied (item page)

    @property
    def check_id(self) -> str:
        return verdict_key_check(self.key)


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
        return Status.label_of(self.status)

    @property
    def attestable(self) -> bool:
        return self.status in (Status.MANUAL, Status.ATTESTED)

    @property
    def failing_checks(self) -> list[CheckRow]:
        return [row for row in self.checks if row.result and row.result.raw_status == Status.FAIL]


@dataclass
class ClusterState:
    """What every checklist of one cluster reads, fetched once."""

    cluster: Cluster
    now: datetime
    distribution: str
    items: dict[str, dict[str, Any]]
    views: dict[str, CheckView]
    attestations: dict[tuple[str, str], list[Attestation]]
    evaluated: bool
    stored: StoredEntries | None = None

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)


def cluster_state(
    cluster: Cluster, *, now: datetime | None = None, with_affected: set[str] | None = None
) -> ClusterState:
    """The cluster's stored item verdicts and check views; affected objects only for the
    checks in `with_affected` (an item page's evidence), never for a whole checklist."""
    return evaluation_state(
        cluster, cluster.latest_evaluation, now=now, with_affected=with_affected
    )


def evaluation_state(
    cluster: Cluster,
    evaluation: Evaluation | None,
    *,
    now: datetime | None = None,
    with_affected: set[str] | None = None,
) -> ClusterState:
    """`cluster_state` for one of its evaluations (a report as of a past date reads the
    evaluation of that date, whose stored verdict is the one it had then)."""
    now = now or timezone.now()
    views: dict[str, CheckView] = {}
    if evaluation is not None:
        views = {view.check_id: view for view in check_views(evaluation, with_affected=False)}
        if with_affected:
            views.update(
                (view.check_id, view)
                for view in check_views(evaluation, check_ids=with_affected, with_affected=True)
            )
    attestations: dict[tuple[str, str], list[Attestation]] = {}
    for attestation in Attestation.objects.for_cluster(cluster).select_related(
        "attested_by", "revoked_by"
    ):
        attestations.setdefault((attestation.guide, attestation.item_id), []).append(attestation)
    return ClusterState(
        cluster=cluster,
        now=now,
        distribution=run_distribution(evaluation.run if evaluation else None),
        items=dict(evaluation.verdict_set.items) if evaluation else {},
        views=views,
        attestations=attestations,
        evaluated=evaluation is not None,
        stored=stored_entries(evaluation, views.values()) if evaluation else None,
    )


def _view_for(key: str, state: ClusterState) -> CheckView | None:
    view = state.views.get(verdict_key_check(key))
    if view is None or "/" not in key:
        return view
    return control_view(view, key.split("/", 1)[1])


def item_row(guide: Guide, item: Item, state: ClusterState) -> ItemRow:
    history = state.attestations.get((guide.slug, item.id), [])
    rows = [
        CheckRow(key, REGISTRY.get(verdict_key_check(key)), _view_for(key, state))
        for key in item.checks
    ]
    stored = state.items.get(guide.slug, {}).get(item.id)
    if stored is None or state.stored is None:
        reason = NOT_COLLECTED if not state.evaluated else "not judged in the latest collection"
        return ItemRow(
            item=item, status=Status.UNKNOWN, reason=reason, checks=rows, attestations=history
        )
    status, attestation_id = (stored, None) if isinstance(stored, str) else stored
    terms = [
        AttestationTerms(a.pk, a.guide, a.item_id, a.reattest_by)
        for a in history
        if a.revoked_at is None
    ]
    reason = item_reason(
        guide,
        item,
        status,
        state.stored.entries,
        causes=state.stored.causes,
        waived_until=state.stored.waived_until,
        attestations=terms,
        today=state.today,
        distribution=state.distribution,
    )
    return ItemRow(
        item=item,
        status=status,
        reason=reason,
        checks=rows,
        attestation=next((a for a in history if a.pk == attestation_id), None),
        attestations=history,
    )


@dataclass
class Checklist:
    guide: Guide
    sections: list[tuple[Any, list[ItemRow]]]
    primary: bool = False  # a primary guide for this cluster's distribution

    @property
    def rows(self) -> list[ItemRow]:
        return [row for _, rows in self.sections for row in rows]

    def counts(self) -> list[dict[str, Any]]:
        counter = Counter(row.status for row in self.rows)
        return [
            {"status": status.value, "label": status.label, "count": counter[status]}
            for status in Status
            if counter[status]
        ]


def checklist(guide: Guide, state: ClusterState) -> Checklist:
    return Checklist(
        guide=guide,
        sections=[
            (section, [item_row(guide, item, state) for item in section.items])
            for section in guide.sections
        ],
        primary=guide.slug in primary_guides(state.distribution),
    )


def checklists(state: ClusterState) -> list[Checklist]:
    """Every guide's checklist, the cluster's primary guides first."""
    return [checklist(guide, state) for guide in guides_for(state.distribution)]
