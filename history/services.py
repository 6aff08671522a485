"""Writes of the history app: daily rollups and retention.

Detailed history (collections, evaluations, verdicts) is kept for
RAMPART_HISTORY_DETAIL_DAYS; the daily rollups written here survive it, so trends reach back
a year or more at a small, fixed cost per cluster-day (RAMPART_HISTORY_DAILY_DAYS, 0 = forever).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from history.models import ClusterDay, FleetDay

if TYPE_CHECKING:
    from posture.findings import ReconcileResult
    from posture.models import Evaluation

FLEET_LOOKBACK_DAYS = 7  # a cluster missing for longer drops out of the fleet's day
PRUNE_BATCH = 1000


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


def day_rescored(*, evaluation: Evaluation) -> None:
    """A waiver changed the evaluation's score: the day it ends shows the new one."""
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


def fleet_day_refresh(*, day: date, now: datetime | None = None) -> FleetDay:
    """Recompute the fleet's row for `day` from the clusters' latest rollups of that week."""
    latest: dict[int, ClusterDay] = {}
    rows = (
        ClusterDay.objects.filter(day__lte=day, day__gt=day - timedelta(days=FLEET_LOOKBACK_DAYS))
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
        FleetDay.objects.update_or_create(day=day, environment=environment, defaults=values)
    # An environment with no cluster left that week keeps no stale row for the day.
    FleetDay.objects.filter(day=day).exclude(environment__in=scopes).delete()
    return FleetDay.objects.get(day=day, environment="")


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


@dataclass(frozen=True)
class Pruned:
    runs: int
    result_sets: int
    results: int
    bundles: int
    days: int


def history_prune(
    *, now: datetime | None = None, detail_days: int | None = None, daily_days: int | None = None
) -> Pruned:
    """Delete collections older than the detail window, keeping each cluster's latest.

    Daily rollups stay (their `evaluation` link is nulled); verdicts no remaining evaluation
    shares are deleted; bundle files go once no remaining collection names them.
    """
    from clusters.models import Cluster, CollectionRun
    from posture.results import unreferenced_delete

    now = now or timezone.now()
    detail_days = settings.RAMPART_HISTORY_DETAIL_DAYS if detail_days is None else detail_days
    daily_days = settings.RAMPART_HISTORY_DAILY_DAYS if daily_days is None else daily_days
    keep: set[int] = set()
    for run_id, evaluation_run_id in Cluster.objects.values_list(
        "latest_run_id", "latest_evaluation__run_id"
    ):
        keep.update(pk for pk in (run_id, evaluation_run_id) if pk is not None)
    old = (
        CollectionRun.objects.filter(created_at__lt=now - timedelta(days=detail_days))
        .exclude(pk__in=keep)
        .exclude(status__in=CollectionRun.ACTIVE_STATUSES)
    )
    runs = 0
    clusters: set[int] = set()
    bundles: set[str] = set()
    while True:
        batch = list(old.values_list("pk", "cluster_id", "bundle")[:PRUNE_BATCH])
        if not batch:
            break
        with transaction.atomic():
            CollectionRun.objects.filter(pk__in=[pk for pk, _, _ in batch]).delete()
        runs += len(batch)
        clusters.update(cluster_id for _, cluster_id, _ in batch)
        bundles.update(name for _, _, name in batch if name)
    result_sets = results = 0
    for cluster_id in sorted(clusters):
        with transaction.atomic():
            sets_deleted, results_deleted = unreferenced_delete(cluster_id=cluster_id)
        result_sets += sets_deleted
        results += results_deleted
    still_named = set(
        CollectionRun.objects.filter(bundle__in=bundles).values_list("bundle", flat=True)
    )
    removed_bundles = 0
    for name in sorted(bundles - still_named):
        if default_storage.exists(name):
            default_storage.delete(name)
            removed_bundles += 1
    days = 0
    if daily_days > 0:
        cutoff = timezone.localdate(now) - timedelta(days=daily_days)
        days, _ = ClusterDay.objects.filter(day__lt=cutoff).delete()
        FleetDay.objects.filter(day__lt=cutoff).delete()
    return Pruned(runs, result_sets, results, removed_bundles, days)
