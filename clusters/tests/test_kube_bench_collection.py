"""kube-bench results entering where they enter beside a bundle: the cluster page's upload
form (good and hostile files, who may) and a live collection reading the latest kube-bench
Job's pod logs over real HTTP with the real kubernetes client (fake API server)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from clusters.kube_bench import MAX_DOCUMENT_BYTES
from clusters.models import Cluster, CollectionRun, NodeBenchmark
from clusters.resources import RESOURCES
from clusters.services import cluster_register
from clusters.tests.factories import make_cluster
from clusters.tests.fakeapi import FakeApiServer
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent / "kube_bench_json"
MASTER = (FIXTURES / "controlplane-1.json").read_bytes()
WORKER = (FIXTURES / "worker-1.json").read_bytes()


def upload(client, cluster: Cluster, content: bytes, name: str = "cp-1.json", node: str = ""):
    return client.post(
        reverse("node_benchmark_upload", args=[cluster.name]),
        {"results": SimpleUploadedFile(name, content, "application/json"), "node": node},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def latest_run(name: str) -> CollectionRun:
    return Cluster.objects.get(name=name).runs.order_by("-pk").first()  # type: ignore[return-value]


def cis(run: CollectionRun) -> dict[str, str]:
    stored = run.evaluation.verdict_set.items["cis-kubernetes"]  # type: ignore[attr-defined]
    return {key: value if isinstance(value, str) else value[0] for key, value in stored.items()}


def test_it_stores_an_uploaded_run_per_node_and_audits_it(engineer):
    cluster = make_cluster()

    response = upload(engineer, cluster, MASTER)
    upload(engineer, cluster, WORKER, name="results.json", node="worker-1")

    assert "kube-bench results for node cp-1 stored" in messages_of(response)[0]
    stored = {b.node: b for b in NodeBenchmark.objects.filter(cluster=cluster)}
    assert sorted(stored) == ["cp-1", "worker-1"]
    assert stored["cp-1"].results["1.2.15"]["status"] == "FAIL"
    assert stored["worker-1"].results["4.2.8"]["status"] == "INFO"
    event = AuditEvent.objects.filter(action="node_benchmark.upload", after__node="cp-1").first()
    assert event is not None and event.actor_name == "erin"
    assert (event.after or {})["results"] == {"FAIL": 4, "PASS": 60, "WARN": 8}
    html = response.content.decode()
    assert "Node-level CIS results (kube-bench)" in html and "<code>cp-1</code>" in html

    engineer.post(reverse("node_benchmark_remove", args=[cluster.name, "cp-1"]))
    assert not NodeBenchmark.objects.filter(cluster=cluster, node="cp-1").exists()
    assert AuditEvent.objects.filter(action="node_benchmark.remove").count() == 1


@pytest.mark.parametrize(
    ("content", "name", "said"),
    [
        (b"not json at all", "cp-1.json", "cp-1.json is not JSON"),
        (b'{"kind": "PodList", "items": []}', "cp-1.json", "has no `Controls`"),
        (b'{"Controls": "x"}', "cp-1.json", "`Controls` is not a list"),
        (
            b'{"Controls": [{"version": "cis-1.12", "tests": [{"results": [{"test_number": '
            b'"1.1.1", "status": "MAYBE"}]}]}]}',
            "cp-1.json",
            "status 'MAYBE' is not PASS",
        ),
        (b"[]", "cp-1.json", "`Controls` is empty"),
        (b"{}", "cp-1.txt", "must be a .json file"),
        (b"{}", "../../etc/Bad Node!.json", "is not a node name"),
        (b" " * (MAX_DOCUMENT_BYTES + 10), "cp-1.json", "larger than 4 MiB"),
    ],
)
def test_it_refuses_what_is_not_kube_bench_output_in_one_line(engineer, content, name, said):
    cluster = make_cluster()

    response = upload(engineer, cluster, content, name=name)

    errors = messages_of(response)
    assert len(errors) == 1 and said in errors[0], errors
    assert "\n" not in errors[0] and "Traceback" not in errors[0]
    assert not NodeBenchmark.objects.exists()


def test_it_lets_only_those_who_may_change_the_cluster_upload(auditor):
    cluster = make_cluster()
    response = auditor.post(
        reverse("node_benchmark_upload", args=[cluster.name]),
        {"results": SimpleUploadedFile("cp-1.json", MASTER)},
    )
    assert response.status_code == 403
    assert not NodeBenchmark.objects.exists()


def _empty_cluster(**options) -> FakeApiServer:
    objects: dict[str, list] = {r.key: [] for r in RESOURCES if not r.optional}
    objects["nodes"] = [{"metadata": {"name": "cp-1", "labels": {}}}]
    return FakeApiServer(objects, **options)


def test_it_reads_the_latest_kube_bench_job_live_and_judges_sections_one_to_four():
    with _empty_cluster() as api:
        api.serve_kube_bench({"cp-1": MASTER, "worker-1": WORKER})
        cluster_register(
            name="live", source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=api.kubeconfig()
        )
        call_command("collect", "live", "--sync")
        requests = list(api.requests)

    run = latest_run("live")
    assert run.status == CollectionRun.Status.SUCCEEDED
    assert run.kind_status["kube-bench"] == "ok"
    assert any(
        "/namespaces/kube-bench/pods?" in r and "job-name%3Dkube-bench" in r for r in requests
    )
    assert any(
        r.startswith("GET /api/v1/namespaces/kube-bench/pods/kube-bench-0abcd/log")
        for r in requests
    )
    assert not any("kube-bench-old" in r for r in requests)  # the latest Job only
    items = cis(run)
    assert items["1.2.15"] == "fail"
    assert items["1.2.9"] == "manual"
    assert items["4.3.1"] == "fail"
    assert items["4.2.1"] == "pass"


def test_it_falls_back_to_uploads_when_the_reader_may_not_read_the_job(engineer):
    with _empty_cluster() as api:
        api.serve_kube_bench({}, forbidden=True)
        cluster = cluster_register(
            name="live", source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=api.kubeconfig()
        )
        call_command("collect", "live", "--sync")
        run = latest_run("live")
        # An optional input the reader was not granted: nothing imported, the run not partial.
        assert run.status == CollectionRun.Status.SUCCEEDED
        assert run.kind_status["kube-bench"] == "not_collected"
        assert (
            "may not read kube-bench Jobs in namespace kube-bench" in run.kind_errors["kube-bench"]
        )
        assert cis(run)["4.2.1"] == "unknown"

        upload(engineer, cluster, WORKER, name="worker-1.json")
        call_command("collect", "live", "--sync")

    run = latest_run("live")
    assert run.kind_status["kube-bench"] == "ok"
    assert cis(run)["4.3.1"] == "fail"
    assert cis(run)["1.1.1"] == "unknown"  # no control-plane run imported


def test_it_records_a_job_whose_logs_are_not_json():
    with _empty_cluster() as api:
        api.serve_kube_bench({"cp-1": b"[INFO] 1 Control Plane Security Configuration\n"})
        cluster_register(
            name="live", source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=api.kubeconfig()
        )
        call_command("collect", "live", "--sync")

    run = latest_run("live")
    assert run.kind_status["kube-bench"] == "error"
    assert "was kube-bench run with --json?" in run.kind_errors["kube-bench"]
    assert run.kind_status["pods"] == "ok"  # the Kubernetes part stands
    assert orjson.loads(orjson.dumps(run.kind_errors))  # stored as plain JSON
