"""Load: 100 clusters on the fake API server, two real worker processes.

Every cluster gets exactly one run and one snapshot (evaluation): none lost, none twice.
RAMPART_LOAD_CLUSTERS changes the count (the figure in issue 11 is for 100); the time is
printed and written to $RAMPART_DATA_DIR/load-result.json.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.db.models import Count

from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from clusters.tests.fakeapi import FakeApiServer
from posture.models import Evaluation
from tests.workers import ROOT, celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DEMO = ROOT / "demo" / "bundles" / "storefront-staging"
CLUSTERS = int(os.environ.get("RAMPART_LOAD_CLUSTERS", "100"))
WORKERS = 2


def test_a_hundred_clusters_two_workers_every_snapshot_once() -> None:
    with FakeApiServer.from_bundle(DEMO) as server:
        kubeconfig = server.kubeconfig()
        for index in range(CLUSTERS):
            cluster_register(
                name=f"load-{index:03d}",
                source_kind=Cluster.SourceKind.KUBECONFIG,
                kubeconfig=kubeconfig,
            )
        runs = CollectionRun.objects.filter(cluster__name__startswith="load-")
        assert runs.count() == CLUSTERS
        started = time.monotonic()
        with ExitStack() as workers:
            for number in range(WORKERS):
                workers.enter_context(celery_worker(name=f"load{number}"))
            wait_for(
                lambda: not runs.filter(status__in=CollectionRun.ACTIVE_STATUSES).exists(),
                timeout=max(300, 6 * CLUSTERS),
                message=f"{CLUSTERS} collections",
                log="load0",
            )
            took = time.monotonic() - started

    statuses = dict(runs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    assert statuses == {CollectionRun.Status.SUCCEEDED: CLUSTERS}, statuses
    assert runs.count() == CLUSTERS  # no run added, none lost
    assert not runs.exclude(attempts=1).exists()  # each claimed once
    snapshots = Evaluation.objects.filter(cluster__name__startswith="load-")
    assert snapshots.count() == CLUSTERS
    assert snapshots.values("cluster").distinct().count() == CLUSTERS  # no duplicates
    assert not Cluster.objects.filter(name__startswith="load-", latest_evaluation=None).exists()
    result = {
        "clusters": CLUSTERS,
        "workers": WORKERS,
        "seconds": round(took, 1),
        "per_minute": round(CLUSTERS / took * 60, 1),
        "runs": runs.count(),
        "snapshots": snapshots.count(),
    }
    Path(settings.DATA_DIR, "load-result.json").write_bytes(orjson.dumps(result))
    print(f"\nload: {result}")
