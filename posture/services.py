"""Writes of the posture app: storing an evaluation, and deriving its verdict again.

The collection pipeline (pipeline.collection) judges an inventory, derives the effective
verdict (posture.evaluation) and stores it here, in its transaction. When governance changes
(a waiver approved, revoked or expired; an attestation recorded, revoked or lapsed) the
compliance app asks `evaluation_rederive` for the cluster's latest evaluation: the same
`derive`, from the stored raw verdicts, written back with its day's rollup.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters.models import CollectionRun
from posture import rollups
from posture.checks.base import CheckContext
from posture.evaluation import DeriveContext, Derived, Governance, derive
from posture.guides import distribution_of
from posture.models import CheckResult, Evaluation
from posture.results import Verdict, result_set_store, verdict_set_store


def check_context(*, today: date | None = None) -> CheckContext:
    return CheckContext(
        allowed_registries=tuple(settings.RAMPART_ALLOWED_REGISTRIES),
        untrusted_namespace_label=settings.RAMPART_UNTRUSTED_NAMESPACE_LABEL,
        today=today or timezone.localdate(),
    )


def catalog_version() -> str:
    from posture import release_catalog

    return release_catalog.get_catalog().version


def derive_context(
    *, today: date, kubernetes_version: str | None, kind_status: dict[str, str]
) -> DeriveContext:
    return DeriveContext(
        today=today,
        distribution=distribution_of(kubernetes_version or ""),
        kind_status=dict(kind_status),
    )


def _moment(value: datetime | date | None) -> datetime | None:
    """A stale-by moment as an aware datetime (an attestation lapses at local midnight)."""
    if value is None or isinstance(value, datetime):
        return value
    return timezone.make_aware(datetime.combine(value, time.min))


def _scores(evaluation: Evaluation, derived: Derived) -> None:
    report = derived.report
    evaluation.score = report.score
    evaluation.coverage = report.coverage
    evaluation.area_scores = report.area_dict()
    evaluation.status_counts = derived.status_counts


def evaluation_store(
    *,
    run: CollectionRun,
    verdicts: list[Verdict],
    derived: Derived,
    governance: Governance,
    created_at: datetime | None = None,
) -> Evaluation:
    """Store one collection's raw and effective verdicts. Call inside its transaction.

    `created_at` back-dates the evaluation (demo and benchmark history); it defaults to now.
    """
    created_at = created_at or timezone.now()
    evaluation = Evaluation(
        run=run,
        cluster_id=run.cluster_id,
        result_set=result_set_store(cluster_id=run.cluster_id, verdicts=verdicts),
        verdict_set=verdict_set_store(cluster_id=run.cluster_id, content=derived.as_stored()),
        verdicts_valid_until=_moment(governance.valid_until(timezone.localdate(created_at))),
        catalog_version=catalog_version(),
        created_at=created_at,
    )
    _scores(evaluation, derived)
    evaluation.save()
    return evaluation


def stored_verdicts(evaluation: Evaluation, *, affected_of: set[str]) -> list[Verdict]:
    """The evaluation's raw verdicts as stored. Affected objects are loaded only for the
    checks in `affected_of` (those governance may waive): the rest need only their counts."""
    rows = evaluation.results.values_list("check_id", "status", "summary", "controls", "missing")
    affected = dict(
        CheckResult.objects.filter(
            pk__in=evaluation.result_set.result_ids, check_id__in=affected_of
        ).values_list("check_id", "affected")
    )
    return [
        Verdict(
            check_id=check_id,
            status=status,
            summary=summary,
            affected=affected.get(check_id, ()),
            controls=controls or {},
            missing=missing or (),
        )
        for check_id, status, summary, controls, missing in rows
    ]


def evaluation_rederive(
    *, evaluation: Evaluation, governance: Governance, now: datetime | None = None
) -> Evaluation:
    """Derive the evaluation's effective verdict again, for governance as it stands now.

    History keeps the verdicts it had at the time; callers re-derive a cluster's latest
    evaluation. Call inside the transaction that changed the governance.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    run = evaluation.run
    verdicts = stored_verdicts(
        evaluation, affected_of={waiver.check_id for waiver in governance.waivers}
    )
    derived = derive(
        verdicts,
        governance=governance,
        context=derive_context(
            today=today, kubernetes_version=run.kubernetes_version, kind_status=run.kind_status
        ),
    )
    with transaction.atomic():
        evaluation.verdict_set = verdict_set_store(
            cluster_id=evaluation.cluster_id, content=derived.as_stored()
        )
        evaluation.verdicts_valid_until = _moment(governance.valid_until(today))
        _scores(evaluation, derived)
        evaluation.save(
            update_fields=[
                "verdict_set",
                "verdicts_valid_until",
                "score",
                "coverage",
                "area_scores",
                "status_counts",
            ]
        )
        rollups.day_rederived(evaluation=evaluation)
    return evaluation
