"""Alerting costs what it sends, not what the collection wrote.

A first collection is the baseline and reads no findings; a later one reads the findings that
opened as counts per check and the first EVIDENCE_LIMIT of each, so its queries do not grow
with the number of findings (a big first collection opened 96k and took 4.4 s to re-read).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Notification
from alerts.regressions import EVIDENCE_LIMIT
from alerts.services import alerts_for_run
from alerts.tests.conftest import kubectl_list, upload, write_bundle
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db
CLUSTER_ADMIN = "access.cluster_admin_bindings"  # high


def with_admin_bindings(directory: Path, count: int) -> Path:
    """A bundle whose ClusterRoleBindings grant cluster-admin to `count` people."""
    write_bundle(directory, privileged=False)
    bindings = [
        {
            "metadata": {"name": f"admin-{i:04d}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "User", "name": f"person-{i:04d}@example.com"}],
        }
        for i in range(count)
    ]
    (directory / "clusterrolebindings.json").write_bytes(
        orjson.dumps(kubectl_list("ClusterRoleBinding", bindings))
    )
    return directory


def collected(cluster: Cluster, bundle: Path) -> CollectionRun:
    finished = collection_execute(run_id=upload(cluster, bundle).pk)
    assert finished is not None and finished.status != CollectionRun.Status.FAILED
    return finished


def regressed(name: str, count: int, tmp_path: Path) -> CollectionRun:
    """A cluster whose second collection grants cluster-admin to `count` people."""
    cluster = cluster_register(
        name=name,
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=with_admin_bindings(tmp_path / name / "v0", 0),
        owners=["owner@example.com"],
    )
    assert collection_execute(run_id=cluster.runs.get().pk) is not None
    return collected(cluster, with_admin_bindings(tmp_path / name / "v1", count))


def finding_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "posture_finding" in q["sql"]]


def test_it_reads_no_findings_for_the_baseline(tmp_path: Path) -> None:
    cluster = cluster_register(
        name="shop",
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=write_bundle(tmp_path / "v1"),
        owners=["owner@example.com"],
    )
    run = cluster.runs.get()
    collection_execute(run_id=run.pk)
    with CaptureQueriesContext(connection) as queries:
        assert alerts_for_run(run_id=run.pk) == []
    assert finding_queries(queries) == []


def test_its_queries_do_not_grow_with_the_findings_opened(tmp_path: Path, settings) -> None:
    settings.RAMPART_ALERT_MIN_SEVERITY = "high"
    counted = []
    for name, count in (("few", 3), ("many", 400)):
        run = regressed(name, count, tmp_path)
        # Alerting again for the same collection reads as the first time, and records nothing.
        with CaptureQueriesContext(connection) as queries:
            alerts_for_run(run_id=run.pk)
        counted.append((len(queries), len(finding_queries(queries))))
    assert counted[0] == counted[1]
    assert counted[1][1] == 2  # the counts per check, and the first few of each
    notification = Notification.objects.get(cluster__name="many")
    [block] = [b for b in notification.payload["findings"] if b["check_id"] == CLUSTER_ADMIN]
    assert (block["new"], len(block["objects"]), block["more"]) == (
        400,
        EVIDENCE_LIMIT,
        400 - EVIDENCE_LIMIT,
    )
    assert block["objects"][0]["workload"] == "ClusterRoleBinding admin-0000"
