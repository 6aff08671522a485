"""A collection run's state: claimed, put back, failed or finished. No posture here.

The run row is the only coordination: a compare-and-swap from pending to running claims it, so
a duplicate message (a retry, a redelivery after a lost worker) cannot collect twice. Every
outcome is written on the run; nothing fails silently. What happens between claim and finish
(evaluating, storing verdicts, alerting) is the pipeline's (pipeline.collection).

    pending -> running -> succeeded | partial | failed
    running -> pending  (the API server was unreachable and the task will retry)
    running -> failed   (its heartbeat stopped: the worker died; runs_fail_stale reaps it)

Worker faults: the collecting worker touches `heartbeat_at` (a thread, and every progress
write). A running run whose heartbeat is older than RAMPART_RUN_STALE_SECONDS lost its worker:
a redelivered message claims it again, a new trigger supersedes it, and the reaper fails it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from clusters.distribution import distribution_of
from clusters.inventory import Inventory, KindStatus
from clusters.models import Cluster, CollectionRun
from clusters.page_cache import page_data_changed
from clusters.redaction import redact
from clusters.resources import EXTRA_INPUTS

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]
INCOMPLETE = (
    KindStatus.FORBIDDEN,
    KindStatus.ERROR,
    KindStatus.NOT_COLLECTED,
    KindStatus.PARTIAL,
)


def stale_before(now: datetime | None = None) -> datetime:
    """A running run whose last sign of life is older than this lost its worker."""
    return (now or timezone.now()) - timedelta(seconds=settings.RAMPART_RUN_STALE_SECONDS)


def _last_alive() -> Coalesce:
    return Coalesce("heartbeat_at", "started_at", "created_at")


def run_claim(run_id: int, *, reclaim_running: bool = False) -> CollectionRun | None:
    """pending -> running, atomically. None when a live worker owns it or it is finished.

    A run left running by a dead worker (its heartbeat is stale) is claimed again: the
    message was redelivered and nobody else will finish it. `reclaim_running` takes a running
    run whatever its heartbeat (the caller knows its worker is gone).
    """
    now = timezone.now()
    claimable = Q(status=CollectionRun.Status.PENDING) | Q(
        status=CollectionRun.Status.RUNNING, last_alive__lt=stale_before(now)
    )
    if reclaim_running:
        claimable |= Q(status=CollectionRun.Status.RUNNING)
    claimed = (
        CollectionRun.objects.filter(pk=run_id)
        .alias(last_alive=_last_alive())
        .filter(claimable)
        .update(
            status=CollectionRun.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            attempts=F("attempts") + 1,
            progress="starting",
        )
    )
    if not claimed:
        return None
    run = CollectionRun.objects.select_related("cluster").get(pk=run_id)
    page_data_changed(cluster_id=run.cluster_id)
    return run


def run_is_alive(run_id: int) -> bool:
    """Running, and its worker showed a sign of life recently (another message may not take it)."""
    return (
        CollectionRun.objects.filter(pk=run_id, status=CollectionRun.Status.RUNNING)
        .alias(last_alive=_last_alive())
        .filter(last_alive__gte=stale_before())
        .exists()
    )


def heartbeat_touch(run_id: int) -> None:
    CollectionRun.objects.filter(pk=run_id, status=CollectionRun.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


@contextmanager
def heartbeat(run: CollectionRun) -> Iterator[None]:
    """Touch the run's heartbeat every RAMPART_RUN_HEARTBEAT_SECONDS while the block runs.

    A thread, because the collecting thread may wait minutes inside one HTTP read or one
    evaluation. It dies with the process, which is the point: a killed worker's run goes
    stale and is reaped (runs_fail_stale). A failed touch (a locked SQLite file, a database
    blip) is logged and tried again; it never fails the collection.
    """
    stop = threading.Event()
    interval = settings.RAMPART_RUN_HEARTBEAT_SECONDS

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    heartbeat_touch(run.pk)
                except DatabaseError:
                    logger.warning("heartbeat of run %s not written", run.pk, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-run-{run.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)


def progress_writer(run: CollectionRun, echo: Progress | None) -> Progress:
    last_write = [0.0]

    def progress(message: str) -> None:
        if echo:
            echo(message)
        # The dashboard polls this; at most one write a second keeps it cheap. Progress is a
        # sign of life too.
        now = time.monotonic()
        if now - last_write[0] >= 1.0:
            last_write[0] = now
            CollectionRun.objects.filter(pk=run.pk).update(
                progress=message[:200], heartbeat_at=timezone.now()
            )

    return progress


def run_requeue(run: CollectionRun, reason: str) -> None:
    """running -> pending: the task will retry later (an unreachable API server)."""
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.PENDING,
        # Its retry message is due within the backoff's ten-minute cap: not lost before that.
        enqueued_at=timezone.now() + timedelta(minutes=10),
        last_error=redact(reason)[:5000],
        progress="will retry",
    )
    page_data_changed(cluster_id=run.cluster_id)


def run_fail(run: CollectionRun, error: str) -> CollectionRun:
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.FAILED,
        finished_at=timezone.now(),
        last_error=redact(error)[:5000],  # errors quote servers, files and tracebacks
        progress="",
    )
    page_data_changed(cluster_id=run.cluster_id)
    run.refresh_from_db()
    return run


def finished_run_fields(inventory: Inventory) -> dict[str, Any]:
    """What a completed run records of its inventory: status, versions, counts, gaps."""
    incomplete = {
        key: status
        for key, status in inventory.kind_status.items()
        # An extra input (provider data, node results) that was simply not supplied is normal.
        if status in INCOMPLETE and not (key in EXTRA_INPUTS and status == KindStatus.NOT_COLLECTED)
    }
    return {
        "status": CollectionRun.Status.PARTIAL if incomplete else CollectionRun.Status.SUCCEEDED,
        "kubernetes_version": inventory.git_version or "",
        "distribution": distribution_of(inventory),
        "object_counts": inventory.counts(),
        "kind_status": {key: str(value) for key, value in inventory.kind_status.items()},
        "kind_errors": {key: redact(reason) for key, reason in inventory.kind_errors.items()},
        "anonymous_probe": inventory.anonymous_probe,
        "last_error": redact(
            "; ".join(
                f"{key}: {inventory.kind_errors.get(key, value)}"
                for key, value in sorted(incomplete.items())
            )
        )[:5000],
    }


def run_finish(
    run: CollectionRun,
    *,
    inventory: Inventory,
    evaluation_id: int,
    fetch_seconds: float,
    evaluate_seconds: float,
    finished_at: Any = None,
) -> None:
    """Record a completed run and make it the cluster's latest. Call in the pipeline's
    transaction, so a cluster never points at an evaluation whose findings are not stored."""
    CollectionRun.objects.filter(pk=run.pk).update(
        finished_at=finished_at or timezone.now(),
        progress="",
        fetch_seconds=round(fetch_seconds, 3),
        evaluate_seconds=round(evaluate_seconds, 3),
        **finished_run_fields(inventory),
    )
    Cluster.objects.filter(pk=run.cluster_id).update(
        latest_run=run, latest_evaluation_id=evaluation_id
    )
    page_data_changed(cluster_id=run.cluster_id)


REAPED_PREFIX = "the worker collecting this cluster stopped"
REAPED = (
    REAPED_PREFIX + " (no heartbeat for {seconds} s: killed, out of memory or its machine lost);"
    " collect again to retry"
)


def runs_fail_stale(*, older_than: timedelta | None = None, cluster_id: int | None = None) -> int:
    """Fail runs whose worker vanished: running with a stale heartbeat, or pending for a day.

    A cluster whose run was reaped is due again at once (beat collects it within a minute),
    unless its previous run was reaped too: a collection that kills its worker every time
    waits for its interval instead of killing workers in a loop. `cluster_id` limits the
    reaping to one cluster (a new trigger superseding a dead run).
    """
    now = timezone.now()
    runs = CollectionRun.objects.all()
    if cluster_id is not None:
        runs = runs.filter(cluster_id=cluster_id)
    cutoff = now - older_than if older_than is not None else stale_before(now)
    seconds = int((now - cutoff).total_seconds())
    reaped = 0
    dead = list(
        runs.filter(status=CollectionRun.Status.RUNNING)
        .alias(last_alive=_last_alive())
        .filter(last_alive__lt=cutoff)
        .values_list("pk", "cluster_id")
    )
    for run_id, dead_cluster in dead:
        # Compare-and-swap again: a redelivered message may have re-claimed it meanwhile.
        failed = (
            CollectionRun.objects.filter(pk=run_id, status=CollectionRun.Status.RUNNING)
            .alias(last_alive=_last_alive())
            .filter(last_alive__lt=cutoff)
            .update(
                status=CollectionRun.Status.FAILED,
                finished_at=now,
                progress="",
                last_error=REAPED.format(seconds=seconds),
            )
        )
        if failed:
            reaped += 1
            logger.warning("reaped collection run %s: its worker died", run_id)
            _due_again(cluster_id=dead_cluster, reaped_run=run_id, now=now)
            page_data_changed(cluster_id=dead_cluster)  # its pages show the run failed
    pending = runs.filter(
        status=CollectionRun.Status.PENDING, created_at__lt=now - timedelta(days=1)
    )
    pending_clusters = set(pending.values_list("cluster_id", flat=True))
    stale_pending = pending.update(
        status=CollectionRun.Status.FAILED,
        finished_at=now,
        last_error="no worker picked this run up within a day; is a Celery worker running?",
    )
    for pending_cluster in pending_clusters if stale_pending else ():
        page_data_changed(cluster_id=pending_cluster)
    return reaped + stale_pending


def _due_again(*, cluster_id: int, reaped_run: int, now: datetime) -> None:
    previous = (
        CollectionRun.objects.filter(cluster_id=cluster_id, pk__lt=reaped_run)
        .order_by("-pk")
        .values_list("last_error", flat=True)
        .first()
    )
    if previous is not None and previous.startswith(REAPED_PREFIX):
        return
    Cluster.objects.filter(pk=cluster_id, next_collection_at__gt=now).update(next_collection_at=now)
