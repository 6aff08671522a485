"""The real-path benchmark's instruments: the findings-heavy cluster, its 1 % change, the TLS
server and its control channel, and the per-child measurement. The numbers are not judged."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from bench.changes import plan_change
from bench.floor import fetch_pods
from bench.proc import ROOT, child_env, run_measured
from bench.synth import synthetic_cluster
from posture.findings import observed_findings


def _app_context(spec: dict[str, Any]) -> Any:
    return spec["containers"][0].get("securityContext")


def test_it_makes_a_cluster_with_about_ten_open_findings_a_pod() -> None:
    from clusters.inventory import Inventory, trim
    from posture import checks  # noqa: F401  (registers every check)
    from posture.checks.base import run_all
    from posture.services import check_context

    objects, version = synthetic_cluster(600, seed=1, shape="findings")
    inventory = Inventory(source="bench")
    inventory.version = version
    for key, items in objects.items():
        inventory.set_objects(key, [trim(key, item) for item in items])
    fingerprints = {
        fingerprint
        for result in run_all(inventory, check_context())
        if result.status.value == "fail"
        for fingerprint in observed_findings(
            result.check.id, [a.as_dict() for a in result.outcome.affected]
        )
    }

    assert {len(d["spec"]["template"]["spec"]["containers"]) for d in objects["deployments"]} == {3}
    assert {d["spec"]["replicas"] for d in objects["deployments"]} == {1, 2}
    assert 8 <= len(fingerprints) / 600 <= 12
    # Pods are as big as real ones: the bulk is what the trim drops.
    pod = objects["pods"][0]
    assert pod["metadata"]["managedFields"] and pod["status"]["containerStatuses"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]


def test_it_keeps_the_default_shape_as_it_was() -> None:
    objects, _ = synthetic_cluster(100, seed=1)

    assert [d["spec"]["replicas"] for d in objects["deployments"]] == [10] * 10
    assert len(objects["pods"][0]["spec"]["containers"]) == 2


def test_it_flips_one_percent_of_pods_with_their_owners_under_new_versions() -> None:
    objects, _ = synthetic_cluster(2000, seed=1, shape="findings")
    change = plan_change(objects, share=0.01)
    flipped = change.objects_at(1)
    restored = change.objects_at(2)

    assert change.pods == 20
    assert [k for k, _, _ in flipped].count("deployments") == change.deployments
    by_key: dict[str, list[dict[str, Any]]] = {}
    for key, index, obj in flipped:
        by_key.setdefault(key, []).append(obj)
        original = objects[key][index]
        assert obj["metadata"]["name"] == original["metadata"]["name"]
        assert int(obj["metadata"]["resourceVersion"]) > change.highest_version
    # The template, its ReplicaSet and its pods agree on the flipped field.
    for deployment in by_key["deployments"]:
        name = deployment["metadata"]["name"]
        context = _app_context(deployment["spec"]["template"]["spec"])
        original = next(d for d in objects["deployments"] if d["metadata"]["name"] == name)
        assert context != _app_context(original["spec"]["template"]["spec"])
        for pod in by_key["pods"]:
            if pod["metadata"]["name"].startswith(f"{name}-"):
                assert _app_context(pod["spec"]) == context
    # Generation 2 serves the original content again, under versions never served before.
    for (key, index, obj), (_, _, first) in zip(restored, flipped, strict=True):
        assert obj["spec"] == objects[key][index]["spec"]
        assert int(obj["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert (
        objects["pods"][flipped[-1][1]]["metadata"]["resourceVersion"]
        != (flipped[-1][2]["metadata"]["resourceVersion"])
    )  # the cluster's own objects are never edited


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.apiserver", "300", "--shape", "findings", "--tls"],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    ready = orjson.loads(process.stdout.readline())
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(base64.b64decode(ready["ca_data"]))

    def send(command: bytes) -> dict[str, Any]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(command + b"\n")
        process.stdin.flush()
        return dict(orjson.loads(process.stdout.readline()))

    try:
        yield ready | {"ca_file": ca_file, "send": send}
    finally:
        process.stdin.close()
        process.wait(timeout=20)


def _versions(served: dict[str, Any]) -> dict[str, str]:
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(served["ca_file"]))
    response = pool.request(
        "GET",
        served["url"] + "/api/v1/pods",
        headers={"Authorization": f"Bearer {served['token']}"},
    )
    assert response.status == 200
    return {
        p["metadata"]["name"]: p["metadata"]["resourceVersion"]
        for p in orjson.loads(response.data)["items"]
    }


def test_it_serves_over_verified_tls_and_changes_pods_on_command(
    served: dict[str, Any],
) -> None:
    before = _versions(served)
    answer = served["send"](b'{"op": "change"}')
    after = _versions(served)
    again = served["send"](b'{"op": "change"}')

    assert served["url"].startswith("https://127.0.0.1:")
    assert fetch_pods(served["url"], served["token"], str(served["ca_file"]), 100) == {
        "items": 300,
        "pages": 3,
    }
    assert answer == {"generation": 1, **served["changes"]}
    assert sum(before[name] != after[name] for name in before) == served["changes"]["pods"] == 3
    assert again["generation"] == 2
    assert served["send"](b'{"op": "nonsense"}')["error"].startswith("unknown command")
    # Without the CA the certificate is refused: the client really verifies it.
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        urllib3.PoolManager(retries=0).request("GET", served["url"] + "/version")


def test_it_measures_the_child_alone_not_its_parent_nor_a_bigger_sibling() -> None:
    grow = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096])"
    big = run_measured([sys.executable, "-c", grow], env=child_env())
    small = run_measured([sys.executable, "-c", "print('hi')"], env=child_env())
    failing = run_measured([sys.executable, "-c", "raise SystemExit(3)"], env=child_env())

    assert big.returncode == 0 and big.peak_rss_mb >= 200
    # This test process holds Django and more (well over 60 MB), and a 200 MB child came before:
    # neither may leak into a small child's peak.
    assert small.peak_rss_mb < 60
    assert small.stdout == "hi\n" and small.wall_s > 0 and small.cpu_s >= 0
    assert failing.returncode == 3
