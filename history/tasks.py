"""Periodic history upkeep. Both tasks are idempotent: rerunning rewrites the same rows."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from history import services
from posture.rollups import fleet_days_refresh


@shared_task
def refresh_fleet_days() -> int:
    """Today's fleet row, and yesterday's so its late collections are counted once final."""
    today = timezone.localdate()
    return fleet_days_refresh(start=today - timedelta(days=1), end=today)


@shared_task
def prune_history() -> dict[str, int]:
    pruned = services.history_prune()
    return {
        "runs": pruned.runs,
        "result_sets": pruned.result_sets,
        "verdict_sets": pruned.verdict_sets,
        "results": pruned.results,
        "bundles": pruned.bundles,
        "days": pruned.days,
    }
