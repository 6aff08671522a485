"""The collection task: thin, takes a run id, calls the pipeline.

Messages are JSON ids only. Acks are late (settings) so a worker lost mid-collection leaves the
message to be redelivered; the run's compare-and-swap claim makes redelivery harmless.
"""

from __future__ import annotations

import random

from celery import Task, shared_task

from clusters import kube
from clusters.models import CollectionRun
from pipeline.collection import collection_execute

MAX_RETRIES = 4


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped at ten minutes."""
    return random.uniform(0, min(600.0, 30.0 * 2**retries))


@shared_task(bind=True, name="pipeline.tasks.collect", max_retries=MAX_RETRIES)
def collect(self: Task, run_id: int) -> str:
    if not CollectionRun.objects.filter(pk=run_id).exists():
        return "gone"  # the cluster was deleted after the task was queued
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        run = collection_execute(
            run_id=run_id,
            retry_transient=self.request.retries < MAX_RETRIES,
            reclaim_running=redelivered,
        )
    except kube.Unreachable as exc:
        # The only error retried: the API server could not be reached. Everything else is
        # recorded on the run and fails loudly.
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    return run.status if run else "not claimed"


# Messages queued before the collect task moved here carry its old name.
collect_under_old_name = shared_task(
    bind=True, name="clusters.tasks.collect", max_retries=MAX_RETRIES
)(collect.run)
