"""Findings keep a stable identity across collections: new, still open, resolved, reopened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.tests.conftest import upload, write_bundle
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from clusters.tests.factories import make_cluster, make_evaluation
from pipeline.collection import collection_execute
from posture.findings import detail_field, workload_name
from posture.models import Evaluation, Finding
from posture.reconcile import findings_reconcile, last_seen_at_for, reconcile_result_for

pytestmark = pytest.mark.django_db

ADMIN_BINDINGS = "test.cluster-admin-bindings"  # critical, from the known_checks fixture
TAGS = "test.latest-tags"  # low


def binding(name: str, detail: str = "grants cluster-admin to User a@example.com") -> dict:
    return {"kind": "ClusterRoleBinding", "namespace": "", "name": name, "detail": detail}


def evaluate(cluster: Cluster, *results: dict, minutes: int = 0) -> Evaluation:
    evaluation = make_evaluation(
        cluster, results=results, created_at=timezone.now() + timedelta(minutes=minutes)
    )
    findings_reconcile(evaluation=evaluation)
    return evaluation


def failing(check_id: str, *affected: dict) -> dict:
    return {"check_id": check_id, "status": "fail", "affected": list(affected)}


def test_it_opens_resolves_and_reopens_findings(known_checks: object) -> None:
    cluster = make_cluster()
    first = make_evaluation(cluster, results=[failing(ADMIN_BINDINGS, binding("a"), binding("b"))])
    result = findings_reconcile(evaluation=first)
    assert [f.name for f in result.new] == ["a", "b"] and result.new[0].severity == "critical"

    second = evaluate(cluster, failing(ADMIN_BINDINGS, binding("b")), minutes=1)
    b = Finding.objects.get(name="b")
    assert Finding.objects.get(name="a").status == "resolved"
    assert b.status == "open" and b.last_seen_evaluation == second
    assert b.first_seen_evaluation == first

    third = make_evaluation(
        cluster,
        results=[failing(ADMIN_BINDINGS, binding("a"), binding("b"))],
        created_at=timezone.now() + timedelta(minutes=2),
    )
    result = findings_reconcile(evaluation=third)
    assert result.new == [] and [f.name for f in result.reopened] == ["a"]
    assert result.still_open == 1
    a = Finding.objects.get(name="a")
    assert (a.status, a.times_reopened, a.resolved_at) == ("open", 1, None)
    assert a.first_seen_evaluation == first and a.opened_evaluation == third

    passed = make_evaluation(
        cluster,
        results=[{"check_id": ADMIN_BINDINGS, "status": "pass"}],
        created_at=timezone.now() + timedelta(minutes=3),
    )
    result = findings_reconcile(evaluation=passed)
    assert sorted(f.name for f in result.resolved) == ["a", "b"]
    assert not Finding.objects.open().exists()


def test_it_never_resolves_findings_of_a_check_that_became_unknown(known_checks: object) -> None:
    cluster = make_cluster()
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")))
    for status in ("unknown", "error", "not_applicable", "waived"):
        result = findings_reconcile(
            evaluation=make_evaluation(
                cluster, results=[{"check_id": ADMIN_BINDINGS, "status": status}]
            )
        )
        assert (result.new, result.resolved, result.still_open) == ([], [], 0)
    finding = Finding.objects.get()
    assert finding.status == "open" and finding.resolved_at is None


def test_it_writes_nothing_when_nothing_changed(known_checks: object) -> None:
    cluster = make_cluster()
    affected = [binding(f"b{i}") for i in range(30)]
    evaluate(cluster, failing(ADMIN_BINDINGS, *affected), failing(TAGS, binding("x")))
    again = make_evaluation(
        cluster,
        results=[failing(ADMIN_BINDINGS, *affected), failing(TAGS, binding("x"))],
        created_at=timezone.now() + timedelta(hours=6),
    )
    with CaptureQueriesContext(connection) as queries:
        result = findings_reconcile(evaluation=again)
    finding_queries = [q["sql"] for q in queries.captured_queries if "posture_finding" in q["sql"]]
    # Same stored verdicts as last time: the findings are not rewritten, nor even read.
    assert len(finding_queries) == 1 and "COUNT" in finding_queries[0]
    assert result.still_open == 31 and not (result.new or result.resolved or result.reopened)
    # The latest evaluation still fails their checks: that is when they were last seen.
    again = Evaluation.objects.select_related("result_set").get(pk=again.pk)
    assert {last_seen_at_for(f, again) for f in Finding.objects.all()} == {again.created_at}


def test_it_keeps_the_last_evaluation_that_saw_a_finding_whose_check_went_unknown(
    known_checks: object,
) -> None:
    cluster = make_cluster()
    seen = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")))
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), minutes=5)
    later = evaluate(cluster, {"check_id": ADMIN_BINDINGS, "status": "unknown"}, minutes=10)
    finding = Finding.objects.get()
    assert finding.status == "open"
    later = Evaluation.objects.select_related("result_set").get(pk=later.pk)
    second = Evaluation.objects.exclude(pk__in=[seen.pk, later.pk]).get()
    assert last_seen_at_for(finding, later) == second.created_at


def test_it_updates_the_latest_detail_without_changing_identity(known_checks: object) -> None:
    cluster = make_cluster()
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("a", "kubelet v1.29.4: 11 patches behind")))
    result = findings_reconcile(
        evaluation=make_evaluation(
            cluster,
            results=[failing(ADMIN_BINDINGS, binding("a", "kubelet v1.29.6: 9 patches behind"))],
        )
    )
    assert result.still_open == 1 and not result.new
    assert Finding.objects.get().detail == "kubelet v1.29.6: 9 patches behind"


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ('container "api": securityContext.privileged=true', 'container "api"'),
        ('volume "host-root": hostPath "/" (exposes the runtime socket)', 'volume "host-root"'),
        ("v1.29.4: CVE-2025-13281 (medium, apiserver): SSRF; fixed in 1.33.6", "CVE-2025-13281"),
        ("kubelet v1.35.2-gke.1234000: 6 patches behind 1.35.8 (since 2026-03-18)", "kubelet"),
        ("containerd 2.0.6: 5 patches behind 2.0.11", "containerd"),
        ("v1.29.4: 11 patches behind 1.29.15 (a fix since 2024-05-14)", "# patches behind"),
        (
            "no default-deny ingress policy (0 policies), nor egress",
            "no default-deny ingress policy",
        ),
        ("restricted v1.29: seccompProfile_restricted: pod or container", "restricted"),
        ("pod api-7d9f8c6b5-x2x9z: mounts the docker socket", "pod api"),
        ("", ""),
    ],
)
def test_it_keeps_what_names_the_problem_and_drops_what_varies(detail: str, field: str) -> None:
    assert detail_field(detail) == field


def test_it_names_generated_objects_by_their_owner() -> None:
    assert workload_name("Pod", "api-7d9f8c6b5-x2x9z") == "api"
    assert workload_name("ReplicaSet", "api-7d9f8c6b5") == "api"
    assert workload_name("Job", "nightly-report-28901234") == "nightly-report"
    assert workload_name("Deployment", "web-frontend") == "web-frontend"
    assert workload_name("Pod", "etcd-node-1") == "etcd-node-1"


def collect(cluster: Cluster, bundle: Path) -> CollectionRun:
    finished = collection_execute(run_id=upload(cluster, bundle).pk)
    assert finished is not None and finished.status != CollectionRun.Status.FAILED
    return finished


def test_it_keeps_every_finding_open_through_a_rolling_update(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle")
    cluster = cluster_register(
        name="shop", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=bundle
    )
    assert collection_execute(run_id=cluster.runs.get().pk) is not None
    opened = set(Finding.objects.open().values_list("fingerprint", flat=True))
    assert Finding.objects.filter(
        check_id="isolation.privileged", kind="Deployment", name="api", field='container "api"'
    ).exists()

    # New ReplicaSet hash, new pod name, new image tag: the same Deployment, the same problems.
    rollout = write_bundle(
        tmp_path / "rollout", pod_hash="5c8d7b9f4", pod_suffix="q7w4z", image="nginx:1.25.4"
    )
    run = collect(cluster, rollout)
    result = reconcile_result_for(evaluation=run.evaluation)
    assert (result.new, result.resolved, result.reopened) == ([], [], [])
    assert result.still_open == len(opened)
    assert set(Finding.objects.open().values_list("fingerprint", flat=True)) == opened


def test_it_measures_time_to_fix_per_severity_for_a_cluster_and_the_fleet(
    known_checks: object,
) -> None:
    prod, staging = make_cluster("prod"), make_cluster("staging")
    start = timezone.now() - timedelta(days=10)
    for cluster, days in ((prod, 2), (staging, 4)):
        first = make_evaluation(
            cluster, results=[failing(ADMIN_BINDINGS, binding("a"))], created_at=start
        )
        findings_reconcile(evaluation=first)
        fixed = make_evaluation(
            cluster,
            results=[{"check_id": ADMIN_BINDINGS, "status": "pass"}],
            created_at=start + timedelta(days=days),
        )
        findings_reconcile(evaluation=fixed)
    per_cluster = Finding.objects.for_cluster(prod).time_to_fix()
    assert per_cluster["critical"]["average"] == timedelta(days=2)
    fleet = Finding.objects.time_to_fix()["critical"]
    assert fleet["fixed"] == 2 and fleet["average"] == timedelta(days=3)
    assert fleet["longest"] == timedelta(days=4)
