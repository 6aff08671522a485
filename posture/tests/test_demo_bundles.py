"""The demo clusters' planted problems are found, and missing data never passes.

Each demo bundle under demo/bundles/ carries EXPECTED.json (written by
scripts/generate_demo_bundles.py next to the problems it plants):
`{"fail": {check id: [{"kind", "namespace", "name"}, ...]}, "unknown": [check id, ...]}`.
A listed check must fail naming at least those objects (an empty list: fail, whatever it names);
an `unknown` check must be unknown. The checks are evaluated as of 2026-11-26, the date the
bundles' version expectations (end-of-life minors, containerd lines) were written for.
"""

from __future__ import annotations

import tarfile
import zipfile
from datetime import date
from functools import cache
from pathlib import Path

import orjson
import pytest

from clusters.bundles import read_bundle
from clusters.inventory import Inventory, KindStatus
from clusters.resources import BY_KEY
from posture.checks.base import CheckContext, Result, Status, run_all

BUNDLES = Path(__file__).resolve().parents[2] / "demo" / "bundles"
TODAY = date(2026, 11, 26)
CLUSTERS = sorted(path.parent.name for path in BUNDLES.glob("*/EXPECTED.json"))
RBAC_KEYS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


def _expected(cluster: str) -> dict:
    return orjson.loads((BUNDLES / cluster / "EXPECTED.json").read_bytes())


@cache
def _evaluate(cluster: str) -> tuple[Inventory, dict[str, Result]]:
    inventory = read_bundle(BUNDLES / cluster)
    results = run_all(inventory, CheckContext(today=TODAY))
    return inventory, {result.check.id: result for result in results}


def _result(cluster: str, check_id: str) -> Result:
    result = _evaluate(cluster)[1].get(check_id)
    if result is None:
        pytest.fail(
            f"check {check_id!r} is not registered, but demo/bundles/{cluster}/EXPECTED.json "
            "plants a problem for it: register the check (or fix the id in "
            "scripts/generate_demo_bundles.py's cluster definitions)"
        )
    return result


def _known(inventory: Inventory, key: str) -> bool:
    """Collected, or an add-on the cluster is known not to serve (so known to be empty)."""
    status = inventory.kind_status.get(key)
    return status == KindStatus.OK or (status == KindStatus.NOT_SERVED and BY_KEY[key].optional)


def _identity(item: dict) -> tuple[str, str, str]:
    return (item["kind"], item["namespace"], item["name"])


FAIL_CASES = [
    pytest.param(cluster, check_id, id=f"{cluster}:{check_id}")
    for cluster in CLUSTERS
    for check_id in sorted(_expected(cluster)["fail"])
]
UNKNOWN_CASES = [
    pytest.param(cluster, check_id, id=f"{cluster}:{check_id}")
    for cluster in CLUSTERS
    for check_id in sorted(_expected(cluster)["unknown"])
]


def test_it_ships_the_three_demo_clusters():
    assert CLUSTERS == ["edge-dev", "payments-prod", "storefront-staging"]


@pytest.mark.parametrize(("cluster", "check_id"), FAIL_CASES)
def test_it_fails_each_planted_problem(cluster, check_id):
    result = _result(cluster, check_id)
    assert result.status == Status.FAIL, (
        f"{cluster}: {check_id} is {result.status.value}, expected fail: {result.outcome.summary}"
    )
    affected = {(item.kind, item.namespace, item.name) for item in result.outcome.affected}
    wanted = {_identity(item) for item in _expected(cluster)["fail"][check_id]}
    missing = sorted(wanted - affected)
    assert not missing, (
        f"{cluster}: {check_id} fails but does not name {missing}; it names {sorted(affected)}"
    )


@pytest.mark.parametrize(("cluster", "check_id"), UNKNOWN_CASES)
def test_it_reports_unknown_where_data_is_missing(cluster, check_id):
    result = _result(cluster, check_id)
    assert result.status == Status.UNKNOWN, (
        f"{cluster}: {check_id} is {result.status.value}, expected unknown: "
        f"{result.outcome.summary}"
    )
    assert result.outcome.summary, "an unknown result must say why"


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_it_never_judges_a_check_whose_resources_are_missing(cluster):
    inventory, results = _evaluate(cluster)
    wrong = []
    for result in results.values():
        missing = [key for key in result.check.needs if not _known(inventory, key)]
        if missing and result.status != Status.UNKNOWN:
            wrong.append(f"{result.check.id} is {result.status.value} without {missing}")
    assert not wrong, f"{cluster}: " + "; ".join(wrong)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_it_raises_no_check_errors(cluster):
    errors = [
        f"{result.check.id}: {result.outcome.summary}"
        for result in _evaluate(cluster)[1].values()
        if result.status == Status.ERROR
    ]
    assert not errors, f"{cluster}: " + "; ".join(errors)


def test_it_reads_the_partial_bundle_as_partial():
    inventory, results = _evaluate("edge-dev")
    for key in RBAC_KEYS:
        assert inventory.kind_status[key] != KindStatus.OK, key
    assert inventory.has("pods") and inventory.has("deployments")
    rbac_checks = [r for r in results.values() if set(r.check.inputs) & set(RBAC_KEYS)]
    assert rbac_checks, "no registered check needs RBAC objects"
    passed = [r.check.id for r in rbac_checks if r.status == Status.PASS]
    assert not passed, f"checks passed without the RBAC objects they need: {passed}"


def test_it_reads_the_complete_bundles_completely():
    for cluster in ("payments-prod", "storefront-staging"):
        inventory, _ = _evaluate(cluster)
        missing = [
            key
            for key in inventory.kind_status
            if not _known(inventory, key) and key != "vulnerabilityreports"
        ]
        assert not missing, f"{cluster} lacks {missing}"
        assert inventory.version and inventory.version["gitVersion"].startswith("v1.")


def test_it_carries_the_gke_cluster_description():
    inventory, _ = _evaluate("payments-prod")
    assert inventory.provider is not None
    assert "payments-prod" in orjson.dumps(inventory.provider).decode()


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_it_reads_an_archived_bundle_like_the_directory(tmp_path, suffix):
    source = BUNDLES / "edge-dev"
    archive = tmp_path / f"edge-dev{suffix}"
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(source.iterdir()):
                bundle.write(path, f"edge-dev/{path.name}")
    else:
        with tarfile.open(archive, "w:gz") as bundle:
            bundle.add(source, arcname="edge-dev")
    from_archive = read_bundle(archive)
    from_directory, _ = _evaluate("edge-dev")
    assert from_archive.counts() == from_directory.counts()
    assert from_archive.kind_status == from_directory.kind_status
    assert from_archive.version == from_directory.version
