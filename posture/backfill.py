"""Upgrades backfill the daily rollups: cluster-days and fleet-days for days before they existed.

Rollups are written as collections happen (posture.rollups.day_record); an installation that
upgraded to them has evaluations from before with no rollup, so its trends started on the
upgrade day. This writes each missing cluster-day from the evaluations stored for it, then
every fleet-day those cluster-days feed. Existing rows are never touched, so running it again
writes nothing (idempotent), and a day the live code already rolls up is left to it.

Data migration posture 0012 runs it with the migration's models; `manage.py backfill_rollups`
runs it with the current ones. Only what is still stored can be rolled up: evaluations pruned
after RAMPART_HISTORY_DETAIL_DAYS are gone. Opened/resolved count the findings whose latest
opening or resolution was one of the day's evaluations (a finding reopened since counts on
its last opening day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.apps import apps as current_apps
from django.utils import timezone

from posture.rollups import FLEET_LOOKBACK_DAYS, area_score_map, fleet_day_refresh


@dataclass(frozen=True)
class Backfilled:
    cluster_days: int
    fleet_days: int
    first_day: date | None = None
    last_day: date | None = None


def rollups_backfill(*, apps: Any = None) -> Backfilled:
    """Write the cluster-days missing for stored evaluations before today, and their fleet-days.

    `apps` is a migration's registry (historical models); default: the current models. Today
    is left to the live rollups and beat's fleet refresh.
    """
    registry = apps or current_apps
    cluster_day: Any = registry.get_model("posture", "ClusterDay")
    evaluation: Any = registry.get_model("posture", "Evaluation")
    finding: Any = registry.get_model("posture", "Finding")
    today = timezone.localdate()
    have = set(cluster_day.objects.values_list("cluster_id", "day"))
    by_day: dict[tuple[int, date], list[Any]] = {}
    rows = (
        evaluation.objects.select_related("run")
        .only(
            "id",
            "cluster_id",
            "created_at",
            "score",
            "coverage",
            "area_scores",
            "open_findings",
            "run__kubernetes_version",
        )
        .order_by("cluster_id", "created_at", "id")
    )
    for row in rows.iterator(chunk_size=2000):
        key = (row.cluster_id, timezone.localtime(row.created_at).date())
        if key[1] < today and key not in have:
            by_day.setdefault(key, []).append(row)
    created = []
    for (cluster_id, day), evaluations in by_day.items():
        last = evaluations[-1]
        ids = [each.pk for each in evaluations]
        scores = [each.score for each in evaluations if each.score is not None]
        created.append(
            cluster_day(
                cluster_id=cluster_id,
                day=day,
                collections=len(evaluations),
                evaluation_id=last.pk,
                score=last.score,
                lowest_score=min(scores) if scores else None,
                coverage=last.coverage,
                area_scores=area_score_map(last.area_scores or {}),
                open_findings=last.open_findings or {},
                opened=finding.objects.filter(opened_evaluation_id__in=ids).count(),
                resolved=finding.objects.filter(resolved_evaluation_id__in=ids).count(),
                kubernetes_version=last.run.kubernetes_version,
            )
        )
    cluster_day.objects.bulk_create(created, batch_size=1000, ignore_conflicts=True)
    if not created:
        return Backfilled(cluster_days=0, fleet_days=0)
    first = min(row.day for row in created)
    # A cluster-day feeds the fleet-days of the week after it (posture.rollups lookback).
    last_day = min(max(row.day for row in created) + timedelta(FLEET_LOOKBACK_DAYS - 1), today)
    last_day = last_day - timedelta(days=1) if last_day == today else last_day
    fleet_days = 0
    day = first
    while day <= last_day:
        fleet_day_refresh(day=day, apps=apps)
        fleet_days += 1
        day += timedelta(days=1)
    return Backfilled(len(created), fleet_days, first, last_day)
