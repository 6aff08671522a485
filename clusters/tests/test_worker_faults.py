"""A worker that dies mid-collection blocks its cluster for minutes, not hours.

The measured faults (issue 11): after a SIGKILL the run stayed `running`, new collections were
refused ("already being collected") until the reaper freed it ~36 min later, and a redelivered
message returned "not claimed". Here, in process: the heartbeat, the re-claim of a stale run,
the reaper, a new trigger superseding a dead run, and two triggers at once (PostgreSQL).
The real worker, SIGKILLed, is tests/test_worker_faults.py.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clusters.collection import heartbeat, run_claim, run_is_alive, runs_fail_stale
from clusters.models import Cluster, CollectionRun
from clusters.services import CollectionAlreadyActive, collection_request
from clusters.tests.factories import make_cluster, make_run
from clusters.tests.test_collection import register_bundle
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db


def killed(run: CollectionRun, *, seconds_ago: float) -> None:
    """The run's worker was killed `seconds_ago`: running, its heartbeat stopped then."""
    then = timezone.now() - timedelta(seconds=seconds_ago)
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.RUNNING, started_at=then, heartbeat_at=then
    )


def stale() -> float:
    return settings.RAMPART_RUN_STALE_SECONDS + 1


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection
def test_the_heartbeat_moves_while_a_collection_runs(settings: Any) -> None:
    settings.RAMPART_RUN_HEARTBEAT_SECONDS = 0.2
    run = make_run(make_cluster(), status=CollectionRun.Status.PENDING)
    claimed = run_claim(run.pk)
    assert claimed is not None and claimed.heartbeat_at is not None
    first = claimed.heartbeat_at
    with heartbeat(claimed):
        time.sleep(1.0)  # a long HTTP read: no progress written, the thread keeps beating
    claimed.refresh_from_db()
    assert claimed.heartbeat_at is not None and claimed.heartbeat_at > first
    assert run_is_alive(run.pk)


def test_a_redelivered_message_reclaims_a_run_whose_worker_died(tmp_path: Path) -> None:
    run = register_bundle(tmp_path).runs.get()
    killed(run, seconds_ago=5)
    assert collection_execute(run_id=run.pk) is None  # its worker may still be alive
    killed(run, seconds_ago=stale())
    finished = collection_execute(run_id=run.pk)
    assert finished is not None and finished.status == CollectionRun.Status.PARTIAL
    assert finished.attempts == 1 and finished.heartbeat_at is not None


def test_the_task_waits_on_a_live_holder_then_takes_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import tasks

    later: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.collect, "apply_async", lambda **options: later.append(options))
    run = register_bundle(tmp_path).runs.get()
    killed(run, seconds_ago=1)

    assert tasks.collect.run(run.pk) == "held by a live worker; looking again later"
    assert later == [
        {
            "args": [run.pk],
            "kwargs": {"waited": 1},
            "countdown": settings.RAMPART_RUN_STALE_SECONDS
            + settings.RAMPART_RUN_HEARTBEAT_SECONDS,
        }
    ]
    killed(run, seconds_ago=stale())  # when it looks again, the holder is dead
    assert tasks.collect.run(run.pk, waited=1) == CollectionRun.Status.PARTIAL
    assert tasks.collect.run(run.pk, waited=2) == "not claimed"  # finished: nothing to do
    assert len(later) == 1


def test_the_reaper_fails_a_dead_run_and_makes_its_cluster_due() -> None:
    cluster = make_cluster(next_collection_at=timezone.now() + timedelta(hours=6))
    dead = make_run(cluster, status=CollectionRun.Status.RUNNING)
    killed(dead, seconds_ago=stale())
    alive = make_run(make_cluster("alive"), status=CollectionRun.Status.RUNNING)
    killed(alive, seconds_ago=2)

    assert runs_fail_stale() == 1

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == CollectionRun.Status.FAILED and dead.finished_at is not None
    assert dead.last_error.startswith("the worker collecting this cluster stopped (no heartbeat")
    assert "collect again to retry" in dead.last_error
    assert alive.status == CollectionRun.Status.RUNNING
    cluster.refresh_from_db()
    assert cluster.next_collection_at is not None
    assert cluster.next_collection_at <= timezone.now()  # beat collects it within a minute
    assert Cluster.objects.due().filter(pk=cluster.pk).exists()


def test_a_collection_that_kills_its_worker_twice_waits_for_its_interval() -> None:
    later = timezone.now() + timedelta(hours=6)
    cluster = make_cluster(next_collection_at=later)
    for _ in range(2):
        run = make_run(cluster, status=CollectionRun.Status.RUNNING)
        killed(run, seconds_ago=stale())
        Cluster.objects.filter(pk=cluster.pk).update(next_collection_at=later)
        assert runs_fail_stale() == 1
    cluster.refresh_from_db()
    assert cluster.next_collection_at == later  # no kill loop


def test_a_new_trigger_supersedes_a_dead_run_but_not_a_live_one(tmp_path: Path) -> None:
    cluster = register_bundle(tmp_path)
    run = cluster.runs.get()
    killed(run, seconds_ago=5)
    with pytest.raises(CollectionAlreadyActive):
        collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)

    killed(run, seconds_ago=stale())
    fresh = collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)

    run.refresh_from_db()
    assert run.status == CollectionRun.Status.FAILED
    assert "no heartbeat" in run.last_error
    assert fresh.status == CollectionRun.Status.PENDING and fresh.bundle.name == run.bundle.name
    finished = collection_execute(run_id=fresh.pk)
    assert finished is not None and finished.status == CollectionRun.Status.PARTIAL


def test_the_reaper_runs_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["fail-stale-collection-runs-every-minute"]
    assert entry["task"] == "clusters.tasks.fail_stale_runs"
    assert entry["schedule"] <= 60
    assert settings.RAMPART_RUN_STALE_SECONDS <= 5 * 60
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        assert isinstance(timeout, int) and timeout <= 10 * 60  # was 2 h


def test_a_message_the_broker_lost_is_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clusters import services
    from clusters.tasks import fail_stale_runs

    sent: list[list[int]] = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: sent.append(args))
    cluster = register_bundle(tmp_path)
    run = cluster.runs.get()
    long_ago = timezone.now() - timedelta(seconds=settings.RAMPART_RUN_RESEND_SECONDS + 5)
    CollectionRun.objects.filter(pk=run.pk).update(enqueued_at=timezone.now())
    assert fail_stale_runs() == 0 and sent == []  # sent a moment ago: still queued
    CollectionRun.objects.filter(pk=run.pk).update(enqueued_at=long_ago)
    assert fail_stale_runs() == 1 and sent == [[run.pk]]
    run.refresh_from_db()
    assert run.enqueued_at is not None and run.enqueued_at > long_ago


def test_a_trigger_while_the_broker_is_down_is_sent_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from kombu.exceptions import OperationalError

    from clusters import services

    def down(name: str, args: list[int]) -> None:
        raise OperationalError("Error 111 connecting to redis://:hunter2@127.0.0.1:6390/0")

    monkeypatch.setattr(services.current_app, "send_task", down)
    run = register_bundle(tmp_path).runs.get()
    assert services.collection_enqueue(run_id=run.pk) is False
    assert "will be sent again" in caplog.text and "hunter2" not in caplog.text
    run.refresh_from_db()
    assert run.status == CollectionRun.Status.PENDING and run.enqueued_at is None
    CollectionRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.RAMPART_RUN_RESEND_SECONDS + 5)
    )
    assert services.runs_resend_lost() == []  # still down: tried, kept pending
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: None)
    assert services.runs_resend_lost() == [run.pk]


@pytest.mark.django_db(transaction=True)
def test_two_triggers_at_once_start_one_collection(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two real transactions racing need PostgreSQL")
    cluster = register_bundle(tmp_path)
    collection_execute(run_id=cluster.runs.get().pk)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def trigger() -> None:
        try:
            start.wait()
            collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)
            outcomes.append("started")
        except CollectionAlreadyActive:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "started"]
    assert cluster.runs.active().count() == 1
