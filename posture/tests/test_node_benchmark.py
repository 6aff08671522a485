"""CIS Kubernetes sections 1-4 from kube-bench runs inside an evidence bundle, collected and
judged by the real pipeline, read back from the stored verdict like every page does.

The fixtures are kube-bench's documented `--json` output: a control-plane node's run of the
master, etcd and controlplane targets (sections 1-3, with FAIL, WARN and PASS) and a worker
node's run of the node target (section 4, with FAIL, WARN, INFO and PASS).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from clusters.bundles import read_bundle
from clusters.inventory import KindStatus
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from compliance.checklist import checklist, cluster_state
from posture.checks.node_benchmark import ITEMS
from posture.guides import guide_get

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "clusters" / "tests" / "kube_bench_json"
DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"


def kube_bench(name: str) -> dict:
    document: dict = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return document


def bundle_with_runs(
    tmp_path: Path, runs: dict[str, Any] | None = None, *, source: str = "edge-dev"
) -> Path:
    """A demo bundle with `kube-bench/<node>.json` for each run given."""
    bundle = tmp_path / source
    shutil.copytree(DEMO / source, bundle)
    (bundle / "kube-bench").mkdir(exist_ok=True)
    for node, document in (runs or {}).items():
        (bundle / "kube-bench" / f"{node}.json").write_bytes(orjson.dumps(document))
    return bundle


def collected(name: str, bundle: Path) -> CollectionRun:
    cluster_register(name=name, source_kind=Cluster.SourceKind.BUNDLE, bundle_path=bundle)
    call_command("collect", name, "--sync")
    run = Cluster.objects.get(name=name).runs.order_by("-pk").first()
    assert run is not None and run.evaluation is not None  # type: ignore[attr-defined]
    return run


def cis_items(run: CollectionRun) -> dict:
    stored = run.evaluation.verdict_set.items["cis-kubernetes"]  # type: ignore[attr-defined]
    return {key: value if isinstance(value, str) else value[0] for key, value in stored.items()}


def rows(name: str) -> dict:
    guide = guide_get("cis-kubernetes")
    assert guide is not None
    found = checklist(guide, cluster_state(Cluster.objects.get(name=name)))
    return {row.item.id: row for row in found.rows}


def test_it_lists_every_item_of_sections_one_to_four_as_kube_bench_numbers_them():
    guide = guide_get("cis-kubernetes")
    assert guide is not None
    ids = [item.id for item in guide.items]
    expected = [item for section in ("1", "2", "3", "4") for item in ITEMS[section]]
    assert ids[: len(expected)] == expected
    assert len(expected) == 97
    assert guide.item("1.2.16") and "--audit-log-path" in guide.item("1.2.16").title  # type: ignore[union-attr]
    assert "kube-bench" in guide.scope


def test_it_judges_each_item_from_the_runs_in_a_bundle(tmp_path):
    bundle = bundle_with_runs(
        tmp_path,
        {"edge-cp-1": kube_bench("controlplane-1"), "edge-worker-1": kube_bench("worker-1")},
    )
    inventory = read_bundle(bundle)
    assert inventory.kind_status["kube-bench"] == KindStatus.OK
    assert sorted(inventory.node_benchmarks["nodes"]) == ["edge-cp-1", "edge-worker-1"]

    run = collected("edge", bundle)
    items = cis_items(run)
    assert items["1.1.1"] == "pass"
    assert items["1.1.12"] == "fail"  # etcd data directory owned by root, not etcd
    assert items["1.2.15"] == "fail"
    assert items["1.2.9"] == "manual"  # WARN: a person decides, never a pass
    assert items["3.1.1"] == "manual"  # kube-bench's own manual-type item
    assert items["2.1"] == "pass"
    assert items["4.3.1"] == "fail"
    assert items["4.2.12"] == "manual"  # WARN
    assert items["4.2.8"] == "manual"  # INFO is informational, not a pass
    assert items["4.2.1"] == "pass"
    assert items["5.2.2"] == "fail"  # section 5 still judged from the API

    found = rows("edge")
    assert "edge-cp-1" in found["1.2.15"].reason
    assert "'--profiling' is equal to 'false'" in found["1.2.15"].reason
    assert "kube-bench could not decide (edge-cp-1 WARN)" in found["1.2.9"].reason
    statuses = run.evaluation.verdict_set.statuses  # type: ignore[attr-defined]
    assert statuses["node.cis_control_plane"] == "fail"
    assert statuses["node.cis_etcd"] == "pass"
    assert statuses["node.cis_worker_nodes"] == "fail"


def test_it_fails_an_item_if_any_node_fails_and_names_the_nodes(tmp_path):
    healthy = kube_bench("worker-1")
    broken = kube_bench("worker-1")
    for group in broken["Controls"][0]["tests"]:
        for result in group["results"]:
            if result["test_number"] == "4.2.1":
                result.update(
                    status="FAIL",
                    actual_value="authentication.anonymous.enabled: true",
                    expected_result="'{.authentication.anonymous.enabled}' is equal to 'false'",
                )
    bundle = bundle_with_runs(tmp_path, {"worker-a": healthy, "worker-b": broken})
    run = collected("edge", bundle)
    assert cis_items(run)["4.2.1"] == "fail"
    result = run.evaluation.results.get(check_id="node.cis_worker_nodes")  # type: ignore[attr-defined]
    nodes = {(obj["kind"], obj["name"]) for obj in result.affected if "4.2.1" in obj["detail"]}
    assert nodes == {("Node", "worker-b")}
    detail = next(obj["detail"] for obj in result.affected if "4.2.1" in obj["detail"])
    assert "actual authentication.anonymous.enabled: true" in detail
    assert "expected '{.authentication.anonymous.enabled}' is equal to 'false'" in detail
    # Sections the runs did not cover are not passed: no control-plane run was imported.
    assert cis_items(run)["1.1.1"] == "unknown"
    assert "No kube-bench result for 1.1.1" in rows("edge")["1.1.1"].reason


def test_it_says_node_level_evidence_is_needed_without_any_run(tmp_path):
    run = collected("edge", bundle_with_runs(tmp_path))
    items = cis_items(run)
    judged = [item for item in ITEMS["1"] + ITEMS["2"] + ITEMS["4"] if item != "1.2.20"]
    assert {items[item] for item in judged} == {"unknown"}
    # kube-bench can only ever say WARN to its manual-type items: they await an attestation.
    assert items["3.1.1"] == items["1.2.20"] == "manual"
    reason = rows("edge")["4.2.1"].reason
    assert reason.startswith("needs node-level evidence (no kube-bench results imported)")
    assert "forbidden" not in reason


def test_it_leaves_control_plane_sections_to_the_provider_on_gke(tmp_path):
    run = collected("payments", bundle_with_runs(tmp_path, source="payments-prod"))
    items = cis_items(run)
    assert {items[item] for item in ITEMS["1"] + ITEMS["2"] + ITEMS["3"]} == {"not_applicable"}
    assert "Provider responsibility (GKE)" in rows("payments")["1.2.1"].reason
    assert items["4.2.1"] == "unknown"  # the nodes are the customer's: evidence needed


def test_it_refuses_a_run_that_is_not_kube_bench_output_without_failing_the_bundle(tmp_path):
    bundle = bundle_with_runs(tmp_path, {"edge-cp-1": {"kind": "List", "items": []}})
    (bundle / "kube-bench" / "edge-worker-1.json").write_text('{"Controls": [')
    inventory = read_bundle(bundle)
    assert inventory.kind_status["kube-bench"] == KindStatus.ERROR
    error = inventory.kind_errors["kube-bench"]
    assert "kube-bench/edge-cp-1.json has no `Controls`" in error
    assert "kube-bench/edge-worker-1.json: not valid JSON" in error
    assert "\n" not in error
    assert inventory.has("pods")
