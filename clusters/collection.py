"""A collection run's state: claimed, put back, failed or finished. No posture here.

The run row is the only coordination: a compare-and-swap from pending to running claims it, so
a duplicate message (a retry, a redelivery after a lost worker) cannot collect twice. Every
outcome is written on the run; nothing fails silently. What happens between claim and finish
(evaluating, storing verdicts, alerting) is the pipeline's (pipeline.collection).

    pending -> running -> succeeded | partial | failed
    running -> pending  (the API server was unreachable and the task will retry)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from clusters.distribution import distribution_of
from clusters.inventory import Inventory, KindStatus
from clusters.models import Cluster, CollectionRun
from clusters.redaction import redact
from clusters.resources import EXTRA_INPUTS

Progress = Callable[[str], None]
INCOMPLETE = (
    KindStatus.FORBIDDEN,
    KindStatus.ERROR,
    KindStatus.NOT_COLLECTED,
    KindStatus.PARTIAL,
)


def run_claim(run_id: int, *, reclaim_running: bool = False) -> CollectionRun | None:
    """pending -> running, atomically. None when another worker owns it or it is finished.

    `reclaim_running` is for a message redelivered after its worker died mid-collection:
    the run is still marked running by the dead worker and nobody else will finish it.
    """
    now = timezone.now()
    statuses = [CollectionRun.Status.PENDING]
    if reclaim_running:
        statuses.append(CollectionRun.Status.RUNNING)
    claimed = CollectionRun.objects.filter(pk=run_id, status__in=statuses).update(
        status=CollectionRun.Status.RUNNING,
        started_at=now,
        finished_at=None,
        attempts=F("attempts") + 1,
        progress="starting",
    )
    if not claimed:
        return None
    return CollectionRun.objects.select_related("cluster").get(pk=run_id)


def progress_writer(run: CollectionRun, echo: Progress | None) -> Progress:
    last_write = [0.0]

    def progress(message: str) -> None:
        if echo:
            echo(message)
        # The dashboard polls this; at most one write a second keeps it cheap.
        now = time.monotonic()
        if now - last_write[0] >= 1.0:
            last_write[0] = now
            CollectionRun.objects.filter(pk=run.pk).update(progress=message[:200])

    return progress


def run_requeue(run: CollectionRun, reason: str) -> None:
    """running -> pending: the task will retry later (an unreachable API server)."""
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.PENDING,
        last_error=redact(reason)[:5000],
        progress="will retry",
    )


def run_fail(run: CollectionRun, error: str) -> CollectionRun:
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.FAILED,
        finished_at=timezone.now(),
        last_error=redact(error)[:5000],  # errors quote servers, files and tracebacks
        progress="",
    )
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


def runs_fail_stale(*, older_than: timedelta | None = None) -> int:
    """Fail runs whose worker vanished: running past the hard time limit, or pending for a day."""
    now = timezone.now()
    limit = older_than or timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    stale_running = CollectionRun.objects.filter(
        status=CollectionRun.Status.RUNNING, started_at__lt=now - limit
    ).update(
        status=CollectionRun.Status.FAILED,
        finished_at=now,
        last_error="the worker stopped before finishing (lost or killed past the time limit)",
    )
    stale_pending = CollectionRun.objects.filter(
        status=CollectionRun.Status.PENDING, created_at__lt=now - timedelta(days=1)
    ).update(
        status=CollectionRun.Status.FAILED,
        finished_at=now,
        last_error="no worker picked this run up within a day; is a Celery worker running?",
    )
    return stale_running + stale_pending
