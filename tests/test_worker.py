"""A real Celery worker process collects clusters end to end (PostgreSQL + Redis in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.conf import settings

from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register, collection_request
from tests.workers import ROOT, celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
DEMO = ROOT / "demo" / "bundles" / "storefront-staging"


def _finished(run: CollectionRun) -> bool:
    run.refresh_from_db()
    return run.status not in CollectionRun.ACTIVE_STATUSES


def test_it_collects_a_bundle_cluster_through_the_worker() -> None:
    cluster = cluster_register(
        name="worker-bundle", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=DEMO
    )
    run = cluster.runs.get()
    with celery_worker():
        wait_for(lambda: _finished(run), message=f"run {run.pk} to finish")
    assert run.status == CollectionRun.Status.SUCCEEDED, run.last_error
    cluster.refresh_from_db()
    assert cluster.latest_evaluation is not None
    assert cluster.latest_evaluation.results.filter(status="fail").exists()
    assert run.attempts == 1


def test_it_collects_a_live_cluster_through_the_worker() -> None:
    from clusters.tests.fakeapi import FakeApiServer

    with FakeApiServer.from_bundle(DEMO) as server:
        cluster = cluster_register(
            name="worker-live",
            source_kind=Cluster.SourceKind.KUBECONFIG,
            kubeconfig=server.kubeconfig(),
        )
        run = cluster.runs.get()
        with celery_worker():
            wait_for(lambda: _finished(run), message=f"run {run.pk} to finish")
    assert run.status == CollectionRun.Status.SUCCEEDED, run.last_error
    assert run.anonymous_probe == {"/version": 200, "/api": 403}
    assert sum(run.object_counts.values()) > 50


def test_it_runs_one_collection_per_cluster_even_when_asked_twice() -> None:
    cluster = cluster_register(
        name="worker-once", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=DEMO
    )
    from clusters.services import CollectionAlreadyActive

    with pytest.raises(CollectionAlreadyActive):
        collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)
    with celery_worker():
        wait_for(lambda: not cluster.runs.active().exists(), message="the run to finish")
    assert cluster.runs.count() == 1


def test_it_runs_on_the_embedded_default_sqlite_and_filesystem_broker(tmp_path: Path) -> None:
    """What a new user meets: SQLite, Celery's filesystem transport, a real worker and inspect."""
    env = {
        **os.environ,
        "RAMPART_ENV_FILE": os.devnull,
        "RAMPART_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rampart.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    manage("register_cluster", "embedded-demo", "--bundle", str(DEMO), "--environment", "staging")
    worker_log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--hostname",
            "embedded@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:

        def collected() -> bool:
            document = orjson.loads(manage("posture", "embedded-demo", "--format", "json"))
            return document["collection"] is not None

        wait_for(collected, timeout=120, message="the embedded worker to collect")
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "10"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "pong" in ping.stdout, ping.stdout + ping.stderr
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        worker_log.close()
    document = orjson.loads(manage("posture", "embedded-demo", "--format", "json"))
    assert document["collection"]["status"] == "succeeded"
    assert settings.CELERY_BROKER_URL  # the suite's own broker is untouched by this test
