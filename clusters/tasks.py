"""Celery tasks of the clusters app: the periodic upkeep of runs. Thin; take no arguments.

The collection itself is the pipeline's task (pipeline.tasks.collect): the clusters app
requests it by name (clusters.services.collection_request) and never imports what runs it.
"""

from __future__ import annotations

from celery import shared_task

from clusters.collection import runs_fail_stale
from clusters.services import clusters_enqueue_due, runs_resend_lost


@shared_task(name="clusters.tasks.enqueue_due_collections")
def enqueue_due_collections() -> int:
    return len(clusters_enqueue_due())


@shared_task(name="clusters.tasks.fail_stale_runs")
def fail_stale_runs() -> int:
    """Worker faults: fail runs whose worker died, send again messages the broker lost."""
    return runs_fail_stale() + len(runs_resend_lost())
