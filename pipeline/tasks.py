"""The collection task: thin, takes a run id, calls the pipeline.

Messages are JSON ids only. Acks are late (settings) so a worker lost mid-collection leaves the
message to be redelivered; the run's compare-and-swap claim makes redelivery harmless, and its
heartbeat tells a run whose worker died (re-claim it) from one still being collected (leave
it, look again later).
"""

from __future__ import annotations

import random

from celery import Task, shared_task
from django.conf import settings

from clusters import kube
from clusters.collection import run_is_alive
from clusters.models import CollectionRun
from pipeline.collection import collection_execute

MAX_RETRIES = 4
# How often a message for a run another worker holds looks again: past the hard time limit, a
# live worker is killed, so a run alive longer than this is not worth waiting on.
MAX_WAITS = 20


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped at ten minutes."""
    return random.uniform(0, min(600.0, 30.0 * 2**retries))


@shared_task(bind=True, name="pipeline.tasks.collect", max_retries=MAX_RETRIES)
def collect(self: Task, run_id: int, waited: int = 0) -> str:
    if not CollectionRun.objects.filter(pk=run_id).exists():
        return "gone"  # the cluster was deleted after the task was queued
    try:
        # Claims a pending run, or a running one whose worker died (stale heartbeat): the
        # message came back after a kill, whatever the broker says about redelivery.
        run = collection_execute(run_id=run_id, retry_transient=self.request.retries < MAX_RETRIES)
    except kube.Unreachable as exc:
        # The only error retried: the API server could not be reached. Everything else is
        # recorded on the run and fails loudly.
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    if run is not None:
        return run.status
    if run_is_alive(run_id) and waited < MAX_WAITS:
        # Another message's worker holds it and was alive a moment ago; it may just have been
        # killed (a prefork child: its message comes straight back). Look again once its
        # heartbeat would have gone stale: then the run is this message's to finish.
        collect.apply_async(
            args=[run_id],
            kwargs={"waited": waited + 1},
            countdown=settings.RAMPART_RUN_STALE_SECONDS + settings.RAMPART_RUN_HEARTBEAT_SECONDS,
        )
        return "held by a live worker; looking again later"
    return "not claimed"


# Messages queued before the collect task moved here carry its old name.
collect_under_old_name = shared_task(
    bind=True, name="clusters.tasks.collect", max_retries=MAX_RETRIES
)(collect.run)
