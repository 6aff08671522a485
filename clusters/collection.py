"""Running one collection: claim the run, read the source, evaluate, record.

The run row is the only coordination: a compare-and-swap from pending to running claims it, so
a duplicate message (a retry, a redelivery after a lost worker) cannot collect twice. Every
outcome is written on the run; nothing fails silently.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clusters import kube
from clusters.bundles import BundleError, read_bundle
from clusters.crypto import CredentialsUnreadable
from clusters.inventory import Inventory, KindStatus
from clusters.kubeconfig import KubeconfigError, in_cluster_credentials
from clusters.models import Cluster, CollectionRun
from clusters.redaction import redact
from clusters.services import cluster_credentials

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


class CollectionFailed(Exception):
    """The source gave nothing usable; the message is shown on the run."""


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


def _progress_writer(run: CollectionRun, echo: Progress | None) -> Progress:
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


def _inventory_for(run: CollectionRun, progress: Progress) -> Inventory:
    cluster = run.cluster
    if cluster.source_kind == Cluster.SourceKind.BUNDLE:
        if not run.bundle:
            raise CollectionFailed("this run has no evidence bundle")
        progress("reading the evidence bundle")
        try:
            return read_bundle(Path(run.bundle.path))
        except (BundleError, OSError) as exc:
            raise CollectionFailed(f"the evidence bundle cannot be read: {exc}") from exc
    try:
        if cluster.source_kind == Cluster.SourceKind.IN_CLUSTER:
            credentials = in_cluster_credentials()
        else:
            credentials = cluster_credentials(cluster)
    except (KubeconfigError, CredentialsUnreadable) as exc:
        raise CollectionFailed(str(exc)) from exc
    secrets = credentials.secret_values()
    try:
        inventory = kube.collect(
            credentials,
            page_size=settings.RAMPART_KUBE_PAGE_SIZE,
            timeout=settings.RAMPART_KUBE_REQUEST_TIMEOUT,
            progress=progress,
        )
    except kube.Unreachable as exc:  # retried upstream; only the message loses the secrets
        raise kube.Unreachable(redact(str(exc), secrets=secrets)) from None
    except kube.KubeError as exc:
        # Rejected or unusable credentials, a refused address, a TLS failure: retrying will
        # not help, and the message is meant for a person (no traceback on the run).
        raise CollectionFailed(redact(str(exc), secrets=secrets)) from None
    # What the cluster's own token looks like is known only here: mask it wherever it is quoted.
    inventory.kind_errors = {
        key: redact(reason, secrets=secrets) for key, reason in inventory.kind_errors.items()
    }
    return inventory


def finished_run_fields(inventory: Inventory) -> dict[str, Any]:
    """What a completed run records of its inventory: status, versions, counts, gaps."""
    incomplete = {
        key: status
        for key, status in inventory.kind_status.items()
        if status
        in (KindStatus.FORBIDDEN, KindStatus.ERROR, KindStatus.NOT_COLLECTED, KindStatus.PARTIAL)
    }
    return {
        "status": CollectionRun.Status.PARTIAL if incomplete else CollectionRun.Status.SUCCEEDED,
        "kubernetes_version": inventory.git_version or "",
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


def run_execute(
    *,
    run_id: int,
    retry_transient: bool = False,
    reclaim_running: bool = False,
    echo: Progress | None = None,
    send_alerts_inline: bool = False,
) -> CollectionRun | None:
    """Collect and evaluate one claimed run. Returns the finished run, or None if not claimed.

    With `retry_transient`, an unreachable cluster puts the run back to pending and re-raises
    `kube.Unreachable` so the task can retry it later; otherwise the run fails.
    Regression emails are enqueued after commit, or sent in this process with
    `send_alerts_inline` (the `collect --sync` command, which may run without a worker).
    """
    from posture.services import evaluation_create

    run = run_claim(run_id, reclaim_running=reclaim_running)
    if run is None:
        return None
    progress = _progress_writer(run, echo)
    started = time.perf_counter()
    try:
        inventory = _inventory_for(run, progress)
    except kube.Unreachable as exc:
        if retry_transient:
            CollectionRun.objects.filter(pk=run.pk).update(
                status=CollectionRun.Status.PENDING,
                last_error=redact(str(exc))[:5000],
                progress="will retry",
            )
            raise
        return run_fail(run, str(exc), send_alerts_inline=send_alerts_inline)
    except CollectionFailed as exc:
        return run_fail(run, str(exc), send_alerts_inline=send_alerts_inline)
    except Exception as exc:
        logger.exception("collection %s crashed", run.pk)
        run_fail(
            run,
            f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            send_alerts_inline=send_alerts_inline,
        )
        raise
    fetched = time.perf_counter()
    progress("evaluating checks")
    try:
        evaluation = evaluation_create(run=run, inventory=inventory)
    except Exception as exc:
        logger.exception("evaluation of run %s crashed", run.pk)
        run_fail(
            run,
            f"evaluation failed: {type(exc).__name__}: {exc}",
            send_alerts_inline=send_alerts_inline,
        )
        raise
    if run.cluster.waivers.exists():
        # Active waivers apply to the stored score at once, not at the next expiry sweep.
        from compliance.services import evaluation_rescore

        evaluation_rescore(evaluation)
    evaluated = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        CollectionRun.objects.filter(pk=run.pk).update(
            finished_at=now,
            progress="",
            fetch_seconds=round(fetched - started, 3),
            evaluate_seconds=round(evaluated - fetched, 3),
            **finished_run_fields(inventory),
        )
        Cluster.objects.filter(pk=run.cluster_id).update(
            latest_run=run, latest_evaluation=evaluation
        )
    run.refresh_from_db()
    _alerts(run, send_inline=send_alerts_inline, echo=echo)
    return run


def run_fail(run: CollectionRun, error: str, *, send_alerts_inline: bool = False) -> CollectionRun:
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.FAILED,
        finished_at=timezone.now(),
        last_error=redact(error)[:5000],
        progress="",
    )
    run.refresh_from_db()
    _alerts(run, send_inline=send_alerts_inline)
    return run


def _alerts(run: CollectionRun, *, send_inline: bool, echo: Progress | None = None) -> None:
    """Regressions of a finished run (K failures in a row count too) become notifications.

    The run's outcome is already committed; a bug in alerting is logged loudly but must not
    turn a good collection into a failed one.
    """
    from alerts.services import alerts_for_run

    try:
        sent = alerts_for_run(run_id=run.pk, send_inline=send_inline)
    except Exception:
        logger.exception("alerting for run %s failed", run.pk)
        if echo:
            echo("alerting failed; see the log")
        return
    if echo and sent:
        echo(f"{len(sent)} regression email(s) {'sent' if send_inline else 'queued'}")


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
