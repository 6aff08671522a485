"""Daily rollups: one row per cluster-day and per fleet-day, the history trends read.

Detailed history (collections, evaluations, verdicts) is kept for RAMPART_HISTORY_DETAIL_DAYS;
these rows survive it, so trends reach back a year or more at a small, fixed cost per
cluster-day (RAMPART_HISTORY_DAILY_DAYS, 0 = forever). A cluster-day is written in its
evaluation's transaction, and again when the evaluation is re-derived after a waiver or
attestation change, so a trend never disagrees with the stored verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import F
from django.utils import timezone

from posture.models import ClusterDay, FleetDay

if TYPE_CHECKING:
    from posture.models import Evaluation
    from posture.reconcile import ReconcileResult

FLEET_LOOKBACK_DAYS = 7  # a cluster missing for longer drops out of the fleet's day


def day_record(
    *,
    evaluation: Evaluation,
    reconciled: ReconcileResult | None = None,
    kubernetes_version: str | None = None,
) -> ClusterDay:
    """Fold an evaluation into its cluster's day. Call inside the evaluation's transaction.

    `kubernetes_version` is the collection's, known before its run row is finalised.
    """
    day = timezone.localtime(evaluation.created_at).date()
    row, _ = ClusterDay.objects.select_for_update().get_or_create(
        cluster_id=evaluation.cluster_id, day=day
    )
    later = (
        row.evaluation_id is not None
        and row.evaluation is not None
        and row.evaluation.created_at > evaluation.created_at
    )
    row.collections += 1
    if reconciled is not None:
        row.opened += len(reconciled.opened)
        row.resolved += len(reconciled.resolved)
    _lower_to(row, evaluation.score)
    if not later:  # an out-of-order evaluation counts but does not become the day's state
        _copy_state(row, evaluation)
        if kubernetes_version is not None:
            row.kubernetes_version = kubernetes_version
    row.save()
    return row


def day_rederived(*, evaluation: Evaluation) -> None:
    """The evaluation's verdict was derived again: the day it ends shows the new one."""
    for row in ClusterDay.objects.filter(evaluation=evaluation):
        _copy_state(row, evaluation)
        _lower_to(row, evaluation.score)
        row.save()


def _lower_to(row: ClusterDay, score: float | None) -> None:
    """The day's lowest score takes in `score` (None: nothing judged, nothing to compare)."""
    if score is not None:
        row.lowest_score = score if row.lowest_score is None else min(row.lowest_score, score)


def _copy_state(row: ClusterDay, evaluation: Evaluation) -> None:
    row.evaluation = evaluation
    row.score = evaluation.score
    row.coverage = evaluation.coverage
    row.area_scores = area_score_map(evaluation.area_scores)
    row.open_findings = evaluation.open_findings
    row.kubernetes_version = evaluation.run.kubernetes_version


def area_score_map(area_scores: dict[str, Any]) -> dict[str, float | None]:
    """{area: score}: a rollup kept for years needs the score, not the evaluation's tallies."""
    return {
        area: tally.get("score") if isinstance(tally, dict) else tally
        for area, tally in area_scores.items()
    }


@dataclass(frozen=True)
class FleetFigures:
    clusters: int
    scores: list[float]
    coverages: list[float]
    open_findings: dict[str, int]
    opened: int
    resolved: int


def fleet_day_refresh(*, day: date, now: datetime | None = None, apps: Any = None) -> FleetDay:
    """Recompute the fleet's row for `day` from the clusters' latest rollups of that week.

    `apps` is a migration's model registry (posture.backfill, run from a data migration).
    """
    days: Any = apps.get_model("posture", "ClusterDay") if apps else ClusterDay
    fleet: Any = apps.get_model("posture", "FleetDay") if apps else FleetDay
    latest: dict[int, ClusterDay] = {}
    rows = (
        days.objects.filter(day__lte=day, day__gt=day - timedelta(days=FLEET_LOOKBACK_DAYS))
        .annotate(environment=F("cluster__environment"))
        .order_by("cluster_id", "day")
    )
    environments: dict[int, str] = {}
    for row in rows.iterator(chunk_size=2000):
        latest[row.cluster_id] = row
        environments[row.cluster_id] = row.environment
    by_environment: dict[str, list[ClusterDay]] = {}
    for cluster_id, cluster_day in latest.items():
        by_environment.setdefault(environments[cluster_id], []).append(cluster_day)
    refreshed_at = now or timezone.now()
    scopes = {"": list(latest.values())}
    scopes.update((env, scoped) for env, scoped in by_environment.items() if env)
    is_today = day == timezone.localtime(refreshed_at).date()
    for environment, scoped in scopes.items():
        values = {**_fleet_values(_figures(scoped, day)), "refreshed_at": refreshed_at}
        if is_today:  # findings say how things stand now, not on a past day
            values["time_to_fix"] = _scope_fix_summary(environment)
        fleet.objects.update_or_create(day=day, environment=environment, defaults=values)
    # An environment with no cluster left that week keeps no stale row for the day.
    fleet.objects.filter(day=day).exclude(environment__in=scopes).delete()
    return fleet.objects.get(day=day, environment="")


def _scope_fix_summary(environment: str) -> dict[str, Any]:
    from posture.models import Finding, fix_summary

    findings = Finding.objects.all()
    if environment:
        findings = findings.filter(cluster__environment=environment)
    return dict(fix_summary(findings))


def fleet_days_refresh(*, start: date, end: date) -> int:
    """Refresh every fleet day in [start, end]; returns how many were written."""
    count = 0
    day = start
    while day <= end:
        fleet_day_refresh(day=day)
        day += timedelta(days=1)
        count += 1
    return count


def _figures(rows: Iterable[ClusterDay], day: date) -> FleetFigures:
    scores: list[float] = []
    coverages: list[float] = []
    open_findings: dict[str, int] = {}
    opened = resolved = clusters = 0
    for row in rows:
        clusters += 1
        coverages.append(row.coverage)
        if row.score is not None:
            scores.append(row.score)
        for severity, count in (row.open_findings or {}).items():
            open_findings[severity] = open_findings.get(severity, 0) + int(count)
        if row.day == day:
            opened += row.opened
            resolved += row.resolved
    return FleetFigures(clusters, scores, coverages, open_findings, opened, resolved)


def _fleet_values(figures: FleetFigures) -> dict[str, object]:
    scores = sorted(figures.scores)
    distribution = {str(bucket): 0 for bucket in range(0, 100, 10)}
    distribution["none"] = figures.clusters - len(scores)
    for score in scores:
        distribution[str(min(int(score // 10) * 10, 90))] += 1
    return {
        "clusters": figures.clusters,
        "scored": len(scores),
        "mean_score": round(statistics.fmean(scores), 2) if scores else None,
        "median_score": round(statistics.median(scores), 2) if scores else None,
        "p10_score": _percentile(scores, 0.10),
        "p90_score": _percentile(scores, 0.90),
        "mean_coverage": round(statistics.fmean(figures.coverages), 4)
        if figures.coverages
        else None,
        "distribution": distribution,
        "open_findings": figures.open_findings,
        "opened": figures.opened,
        "resolved": figures.resolved,
    }


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)
