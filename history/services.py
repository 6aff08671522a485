"""Writes of the history app: retention.

Detailed history (collections, evaluations, verdicts) is kept for RAMPART_HISTORY_DETAIL_DAYS;
the daily rollups (posture.rollups) survive it, so trends reach back a year or more at a small,
fixed cost per cluster-day (RAMPART_HISTORY_DAILY_DAYS, 0 = forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from clusters.page_cache import page_data_changed
from posture.models import ClusterDay, FleetDay

PRUNE_BATCH = 1000


@dataclass(frozen=True)
class Pruned:
    runs: int
    result_sets: int
    verdict_sets: int
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
    if runs:
        page_data_changed()  # the fleet's change over a week reads old evaluations
    result_sets = verdict_sets = results = 0
    for cluster_id in sorted(clusters):
        with transaction.atomic():
            sets, verdicts, results_deleted = unreferenced_delete(cluster_id=cluster_id)
        result_sets += sets
        verdict_sets += verdicts
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
    return Pruned(runs, result_sets, verdict_sets, results, removed_bundles, days)
