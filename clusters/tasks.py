"""Celery tasks: thin, take ids, call one service.

Messages are JSON ids only. Acks are late (settings) so a worker lost mid-collection leaves the
message to be redelivered; the run's compare-and-swap claim makes redelivery harmless.
"""

from __future__ import annotations

import random

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from clusters import kube
from clusters.collection import run_execute, run_fail, runs_fail_stale
from clusters.models import CollectionRun
from clusters.services import clusters_enqueue_due

MAX_RETRIES = 4


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped at ten minutes."""
    return random.uniform(0, min(600.0, 30.0 * 2**retries))


@shared_task(bind=True, name="clusters.tasks.collect", max_retries=MAX_RETRIES)
def collect(self: Task, run_id: int) -> str:
    if not CollectionRun.objects.filter(pk=run_id).exists():
        return "gone"  # the cluster was deleted after the task was queued
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        run = run_execute(
            run_id=run_id,
            retry_transient=self.request.retries < MAX_RETRIES,
            reclaim_running=redelivered,
        )
    except kube.Unreachable as exc:
        # The only error retried: the API server could not be reached. Everything else is
        # recorded on the run and fails loudly.
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except SoftTimeLimitExceeded:
        run_obj = CollectionRun.objects.get(pk=run_id)
        run_fail(run_obj, "the collection exceeded its time limit (CELERY_TASK_SOFT_TIME_LIMIT)")
        return "timed out"
    return run.status if run else "not claimed"


@shared_task(name="clusters.tasks.enqueue_due_collections")
def enqueue_due_collections() -> int:
    return len(clusters_enqueue_due())


@shared_task(name="clusters.tasks.fail_stale_runs")
def fail_stale_runs() -> int:
    return runs_fail_stale()
