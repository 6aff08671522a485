"""Real workers killed, a real Redis restarted: no cluster stays blocked, no run is lost.

Measured before (issue 11): a SIGKILLed worker left its run `running`, new collections were
refused for ~36 min and a redelivered message returned "not claimed"; with Redis a killed
worker's message came back after the 2 h visibility timeout. Here the windows are shortened
through the same settings an operator sets (RAMPART_RUN_STALE_SECONDS and friends), and each
test prints what it measured.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings as django_settings

from clusters import services
from clusters.collection import runs_fail_stale
from clusters.models import Cluster, CollectionRun
from clusters.services import CollectionAlreadyActive, cluster_register, collection_request
from clusters.tasks import fail_stale_runs
from clusters.tests.fakeapi import FakeApiServer
from tests.workers import ROOT, celery_worker, kill_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
DEMO = ROOT / "demo" / "bundles" / "storefront-staging"
BEAT, STALE = 1, 6
FAULTS = {
    "RAMPART_RUN_HEARTBEAT_SECONDS": str(BEAT),
    "RAMPART_RUN_STALE_SECONDS": str(STALE),
}
ON_REDIS = django_settings.CELERY_BROKER_URL.startswith("redis")


@pytest.fixture
def faults(settings: Any) -> Iterator[None]:
    """This process reaps with the workers' windows; leftover unacked messages are dropped."""
    settings.RAMPART_RUN_HEARTBEAT_SECONDS = BEAT
    settings.RAMPART_RUN_STALE_SECONDS = STALE
    yield
    if ON_REDIS:
        import redis

        redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete("unacked", "unacked_index")


def finished(run: CollectionRun) -> bool:
    run.refresh_from_db()
    return run.status not in CollectionRun.ACTIVE_STATUSES


def live_cluster(server: FakeApiServer, name: str) -> Cluster:
    return cluster_register(
        name=name, source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=server.kubeconfig()
    )


def killed_while_listing_pods(server: FakeApiServer, run: CollectionRun) -> float:
    """Start a worker, let it get stuck reading pods, SIGKILL it whole; when it was killed."""
    with celery_worker(extra_env=FAULTS, name="doomed") as worker:
        wait_for(
            lambda: any("/pods" in line for line in server.requests),
            message="the worker to reach pods",
            log="doomed",
        )
        run.refresh_from_db()
        beat = run.heartbeat_at

        def beating() -> bool:
            run.refresh_from_db()
            return run.heartbeat_at != beat

        wait_for(
            beating,
            timeout=10 * BEAT,
            message="the heartbeat to move during a long read",
            log="doomed",
        )
        kill_worker(worker)
        return time.monotonic()


def test_a_killed_worker_frees_its_cluster_within_the_window(faults: None) -> None:
    with FakeApiServer.from_bundle(DEMO, slow={"pods": 300}) as server:
        cluster = live_cluster(server, "killed-mid-collection")
        run = cluster.runs.get()
        killed_at = killed_while_listing_pods(server, run)
        assert run.status == CollectionRun.Status.RUNNING
        with pytest.raises(CollectionAlreadyActive):  # a moment ago its worker was alive
            collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)

        def reaped() -> bool:
            runs_fail_stale()  # what beat runs every RAMPART_REAP_INTERVAL_SECONDS
            return finished(run)

        wait_for(reaped, timeout=4 * STALE, message="the reaper to free the run")
        freed_after = time.monotonic() - killed_at
        assert run.status == CollectionRun.Status.FAILED
        assert "no heartbeat" in run.last_error and "collect again" in run.last_error
        assert freed_after <= STALE + 2 * BEAT + 2
        print(f"\nSIGKILL to run freed: {freed_after:.1f} s (stale after {STALE} s)")

        server.slow.clear()
        again = collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)
        with celery_worker(extra_env=FAULTS, name="second"):
            wait_for(lambda: finished(again), message="a new collection", log="second")
    assert again.status == CollectionRun.Status.SUCCEEDED, again.last_error


@pytest.mark.skipif(not ON_REDIS, reason="the filesystem broker loses a killed worker's message")
def test_the_message_of_a_killed_worker_comes_back_and_finishes_the_run(faults: None) -> None:
    """Acks are late: Redis gives the killed worker's message to the next worker after the
    visibility timeout, and the message re-claims the run its dead worker left running."""
    with FakeApiServer.from_bundle(DEMO, slow={"pods": 300}) as server:
        run = live_cluster(server, "redelivered").runs.get()
        killed_at = killed_while_listing_pods(server, run)
        server.slow.clear()
        visibility = {**FAULTS, "RAMPART_BROKER_VISIBILITY_TIMEOUT": str(STALE + 2)}
        with celery_worker(extra_env=visibility, name="heir"):
            wait_for(lambda: finished(run), timeout=90, message="redelivery", log="heir")
        took = time.monotonic() - killed_at
    assert run.status == CollectionRun.Status.SUCCEEDED, run.last_error
    assert run.attempts == 2  # claimed by the killed worker, then re-claimed
    print(f"\nSIGKILL to the redelivered message finishing the run: {took:.1f} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def private_redis(directory: Path) -> Iterator[tuple[str, Any]]:
    """A redis-server of this test's own on a spare loopback port (the shared one is left
    alone), without persistence like the compose file's; yields its URL, stop and start."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    process: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        process.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the private redis-server did not start")

    def stop() -> None:
        process[-1].terminate()
        process[-1].wait(timeout=10)

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", (stop, start)
    finally:
        process[-1].terminate()
        process[-1].wait(timeout=10)


def test_queued_collections_complete_after_redis_restarts_mid_burst(
    faults: None, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.RAMPART_RUN_RESEND_SECONDS = 10
    with private_redis(tmp_path) as (url, (stop, start)), FakeApiServer.from_bundle(DEMO) as api:
        app = Celery("rampart-burst", set_as_current=False)  # sends to the private Redis
        app.conf.broker_write_url = url  # (broker_url yields to $CELERY_BROKER_URL)
        app.conf.task_serializer = "json"
        monkeypatch.setattr(services, "current_app", app)
        env = {**FAULTS, "CELERY_BROKER_URL": url, "RAMPART_BROKER_VISIBILITY_TIMEOUT": "20"}
        runs = [live_cluster(api, f"burst-{index}").runs.get() for index in range(16)]
        resent = 0
        with celery_worker(extra_env=env, concurrency=2, name="burst"):
            wait_for(lambda: any(finished(run) for run in runs), message="a first run")
            stop()  # the queued messages are gone with it
            runs += [live_cluster(api, f"burst-down-{index}").runs.get() for index in range(3)]
            start()
            runs += [live_cluster(api, f"burst-after-{index}").runs.get() for index in range(3)]
            started = time.monotonic()

            def all_done() -> bool:
                nonlocal resent
                resent += fail_stale_runs()  # beat's reaper: re-sends what the broker lost
                return all(finished(run) for run in runs)

            wait_for(all_done, timeout=240, message="every queued run", log="burst")
            took = time.monotonic() - started
    statuses = [run.status for run in runs]
    assert statuses == [CollectionRun.Status.SUCCEEDED] * len(runs), [r.last_error for r in runs]
    assert CollectionRun.objects.filter(cluster__name__startswith="burst").count() == len(runs)
    assert resent >= 3  # at least the triggers made while Redis was down
    print(
        f"\nRedis restarted mid-burst: {len(runs)}/{len(runs)} succeeded {took:.1f} s after"
        f" it came back; {resent} lost message(s) sent again"
    )
