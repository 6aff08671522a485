"""The collection pipeline: the one module that knows every step of "a collection was fetched".

    claim the run                          clusters.collection
    read the source -> Inventory           clusters.sources (live API | evidence bundle)
    governance in force                    compliance.services.governance_for
    judge + derive, once                   posture.evaluation.evaluate
    store, reconcile, roll up, finish      posture.services / posture.findings / posture.rollups /
                                           clusters.collection, in one transaction
    alert                                  alerts.services, after commit

It calls down and is never called up: the apps below return data. The collect task, the
`collect` and `load_demo` commands and the demo history enter here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from alerts.services import alerts_for_run
from clusters import kube
from clusters.collection import (
    heartbeat,
    progress_writer,
    run_claim,
    run_fail,
    run_finish,
    run_requeue,
)
from clusters.distribution import distribution_of
from clusters.inventory import Inventory, gc_paused
from clusters.models import CollectionRun
from clusters.sources import CollectionFailed, inventory_for
from compliance.services import governance_for
from posture.evaluation import derive, evaluate
from posture.models import Evaluation
from posture.reconcile import findings_reconcile, open_by_severity
from posture.rollups import day_record
from posture.services import (
    check_context,
    derive_context,
    evaluation_store,
    judging_fingerprint,
    stored_verdicts,
)

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]
TIME_LIMIT = "the collection exceeded its time limit (CELERY_TASK_SOFT_TIME_LIMIT)"


def collection_execute(
    *,
    run_id: int,
    retry_transient: bool = False,
    reclaim_running: bool = False,
    echo: Progress | None = None,
    send_alerts_inline: bool = False,
) -> CollectionRun | None:
    """Collect, evaluate and record one run. Returns the finished run, or None if not claimed.

    With `retry_transient`, an unreachable cluster puts the run back to pending and re-raises
    `kube.Unreachable` so the task can retry it later; otherwise the run fails. The soft time
    limit is handled here, once: the run fails with the reason and alerts once. Regression
    emails are enqueued after commit, or sent in this process with `send_alerts_inline` (the
    `collect --sync` command, which may run without a worker).
    """
    run = run_claim(run_id, reclaim_running=reclaim_running)
    if run is None:
        return None
    progress = progress_writer(run, echo)
    started = time.perf_counter()
    try:
        with heartbeat(run):  # a worker killed from here on leaves a stale run, reaped soon
            inventory = inventory_for(run, progress)
            fetched = time.perf_counter()
            progress("evaluating checks")
            inventory_record(
                run=run, inventory=inventory, fetch_seconds=fetched - started, progress=progress
            )
    except kube.Unreachable as exc:
        if not retry_transient:
            return _failed(run, str(exc), send_inline=send_alerts_inline)
        run_requeue(run, str(exc))
        raise
    except CollectionFailed as exc:
        return _failed(run, str(exc), send_inline=send_alerts_inline)
    except SoftTimeLimitExceeded:
        return _failed(run, TIME_LIMIT, send_inline=send_alerts_inline)
    except Exception as exc:
        logger.exception("collection %s crashed", run.pk)
        _failed(run, f"{type(exc).__name__}: {exc}", send_inline=send_alerts_inline)
        raise
    run.refresh_from_db()
    _alerts(run, send_inline=send_alerts_inline, echo=echo)
    return run


def inventory_record(
    *,
    run: CollectionRun,
    inventory: Inventory,
    fetch_seconds: float = 0.0,
    created_at: datetime | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate an inventory for a claimed run and store everything it implies, atomically.

    `created_at` back-dates the evaluation and reads governance as it stood then (the demo's
    history); it defaults to now.
    """
    evaluating = time.perf_counter()
    progress = progress or _quiet
    at = created_at or timezone.now()
    today = timezone.localdate(at)
    governance = governance_for(cluster_id=run.cluster_id, now=at)
    kind_status = {key: str(status) for key, status in inventory.kind_status.items()}
    checks = check_context(today=today)
    fingerprint = judging_fingerprint(inventory_digest=inventory.digest(), context=checks)
    context = derive_context(
        today=today,
        kubernetes_version=inventory.git_version,
        kind_status=kind_status,
        distribution=distribution_of(inventory),
    )
    judged_as = (
        Evaluation.objects.select_related("result_set")
        .filter(cluster_id=run.cluster_id, judging_fingerprint=fingerprint)
        .order_by("-created_at", "-id")
        .first()
    )
    if judged_as is not None:
        # The same inventory, checks and day: its raw verdicts are these. Derive only.
        progress(f"unchanged since collection {judged_as.run_id}: its verdicts stand")
        waivable = {waiver.check_id for waiver in governance.waivers}
        verdicts = stored_verdicts(judged_as, affected_of=waivable)
        derived = derive(verdicts, governance=governance, context=context)
    else:
        with gc_paused():  # checks build many small objects and no cycles; see gc_paused
            verdicts, derived = evaluate(
                inventory, governance=governance, checks=checks, context=context
            )
    with transaction.atomic():
        evaluation = evaluation_store(
            run=run,
            verdicts=verdicts,
            derived=derived,
            governance=governance,
            created_at=at,
            judged_as=judged_as,
            fingerprint=fingerprint,
        )
        # Same transaction: an evaluation is never stored without its findings reconciled,
        # its day's rollup moved on and its run finished.
        reconciled = findings_reconcile(evaluation=evaluation)
        evaluation.open_findings = open_by_severity(cluster_id=run.cluster_id)
        evaluation.save(update_fields=["open_findings"])
        day_record(
            evaluation=evaluation,
            reconciled=reconciled,
            kubernetes_version=inventory.git_version or "",
        )
        run_finish(
            run,
            inventory=inventory,
            evaluation_id=evaluation.pk,
            fetch_seconds=fetch_seconds,
            evaluate_seconds=time.perf_counter() - evaluating,
            finished_at=created_at,
        )
    return evaluation


def _quiet(message: str) -> None:
    pass


def _failed(run: CollectionRun, error: str, *, send_inline: bool) -> CollectionRun:
    run = run_fail(run, error)
    _alerts(run, send_inline=send_inline)
    return run


def _alerts(run: CollectionRun, *, send_inline: bool, echo: Progress | None = None) -> None:
    """Regressions of a finished run (K failures in a row count too) become notifications.

    The run's outcome is already committed; a bug in alerting is logged loudly but must not
    turn a good collection into a failed one.
    """
    try:
        sent: list[Any] = alerts_for_run(run_id=run.pk, send_inline=send_inline)
    except Exception:
        logger.exception("alerting for run %s failed", run.pk)
        if echo:
            echo("alerting failed; see the log")
        return
    if echo and sent:
        echo(f"{len(sent)} regression email(s) {'sent' if send_inline else 'queued'}")
