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


def _app_context(spec: dict[str, Any]) -> Any:
    return spec["containers"][0].get("securityContext")


def test_it_makes_templates_that_fail_several_checks_and_pods_of_real_size() -> None:
    # How many findings that makes is counted where it matters, in the database after a real
    # collect --sync (tests/test_bench_smoke.py).
    objects, _ = synthetic_cluster(600, seed=1, shape="findings")
    templates = [d["spec"]["template"]["spec"] for d in objects["deployments"]]

    assert {len(t["containers"]) for t in templates} == {3}
    assert {d["spec"]["replicas"] for d in objects["deployments"]} == {1, 2}
    unhardened = [t for t in templates if "securityContext" not in t["containers"][0]]
    assert len(unhardened) > len(templates) / 3
    assert all("@sha256:" not in t["containers"][0]["image"] for t in templates)
    assert any(t["containers"][0].get("securityContext") == {"privileged": True} for t in templates)
    assert any(v.get("hostPath") for t in templates for v in t["volumes"])
    # Pods as stored: the bulk is what the trim drops.
    pod = objects["pods"][0]
    assert 10_000 < len(orjson.dumps(pod)) < 30_000
    assert {m["manager"] for m in pod["metadata"]["managedFields"]} == {
        "kube-controller-manager",
        "kubelet",
    }
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]
    assert pod["spec"]["volumes"][-1]["name"].startswith("kube-api-access-")


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
