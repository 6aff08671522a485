"""Writes of the posture app: turning an inventory into a stored, scored evaluation."""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters.inventory import Inventory, gc_paused
from clusters.models import CollectionRun
from history.services import day_record
from posture.checks.base import CheckContext, Result, run_all
from posture.findings import findings_reconcile, open_by_severity
from posture.models import Evaluation
from posture.results import Verdict, result_set_store
from posture.scoring import Scored, score


def check_context(*, today: date | None = None) -> CheckContext:
    return CheckContext(
        allowed_registries=tuple(settings.RAMPART_ALLOWED_REGISTRIES),
        untrusted_namespace_label=settings.RAMPART_UNTRUSTED_NAMESPACE_LABEL,
        today=today or timezone.localdate(),
    )


def scored(result: Result) -> Scored:
    return Scored(
        check_id=result.check.id,
        area=result.check.area.value,
        severity=result.check.severity.value,
        status=result.status.value,
    )


def catalog_version() -> str:
    from posture import release_catalog

    return release_catalog.get_catalog().version


def evaluation_create(
    *, run: CollectionRun, inventory: Inventory, created_at: datetime | None = None
) -> Evaluation:
    """Run every check on the inventory and store verdicts and scores for this run.

    `created_at` back-dates the evaluation (demo and benchmark history); it defaults to now.
    """
    with gc_paused():  # checks build many small objects and no cycles; see gc_paused
        results = run_all(
            inventory,
            check_context(today=timezone.localtime(created_at).date() if created_at else None),
        )
    report = score(scored(result) for result in results)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    with transaction.atomic():
        result_set = result_set_store(
            cluster_id=run.cluster_id,
            verdicts=(
                Verdict(
                    check_id=result.check.id,
                    status=result.status.value,
                    summary=result.outcome.summary,
                    affected=[item.as_dict() for item in result.outcome.affected],
                )
                for result in results
            ),
        )
        evaluation = Evaluation.objects.create(
            run=run,
            cluster_id=run.cluster_id,
            result_set=result_set,
            score=report.score,
            coverage=report.coverage,
            area_scores=report.area_dict(),
            status_counts=counts,
            catalog_version=catalog_version(),
            created_at=created_at or timezone.now(),
        )
        # Same transaction: an evaluation is never stored without its findings reconciled
        # and its day's rollup moved on.
        reconciled = findings_reconcile(evaluation=evaluation)
        evaluation.open_findings = open_by_severity(cluster_id=run.cluster_id)
        evaluation.save(update_fields=["open_findings"])
        day_record(
            evaluation=evaluation,
            reconciled=reconciled,
            kubernetes_version=inventory.git_version or "",
        )
    return evaluation
