"""Upstream's Pod Security fixtures, judged the way users' clusters are: through evidence bundles.

Every oracle case becomes a pod in a namespace pinned to the case's policy version
(`pod-security.kubernetes.io/enforce-version`), one namespace per (level, version). The bundle
is read by `read_bundle` and judged by the catalog's runner, so the trim, the workload index,
the namespace's policy version and the per-control verdicts all take part. Twice:

- complete: pods, namespaces and every controller list (empty), as a full reader collects;
- pods only: pods and namespaces, no controller lists, as a reader allowed to list pods alone.

Both must list exactly the pods upstream fails, for upstream's reason (the control's own
verdict names them), and pods-only must say what it could not collect without hiding them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from clusters.bundles import read_bundle
from posture.checks.base import REGISTRY, CheckContext, run_check
from posture.status import Status
from posture.tests.test_pss_conformance import CASES_FILE, ORACLE, REPLACED_BY
from posture.workloads import WORKLOAD_KEYS

pytestmark = pytest.mark.skipif(
    not CASES_FILE.is_file(),
    reason=f"PSS oracle not found at {CASES_FILE} (set RAMPART_ORACLE_DIR to the oracle folder)",
)


def _namespace(level: str, version: str) -> str:
    return f"{level}-{version.replace('.', '-')}"


def _cases() -> list[dict[str, Any]]:
    cases = []
    for index, line in enumerate(CASES_FILE.read_text().splitlines()):
        if line.strip():
            case = json.loads(line)
            case["pod_name"] = f"case-{index:05d}"
            cases.append(case)
    return cases


def _write_bundle(directory: Path, cases: list[dict[str, Any]], *, complete: bool) -> None:
    directory.mkdir()
    namespaces = sorted({(c["level"], c["version"]) for c in cases})
    pods = []
    for case in cases:
        manifest = yaml.safe_load((ORACLE / case["manifest_files"][0]).read_text())
        metadata = dict(manifest.get("metadata") or {})
        metadata.update(name=case["pod_name"], namespace=_namespace(case["level"], case["version"]))
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, **_rest(manifest)})
    lists = {
        "pods": pods,
        "namespaces": [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": _namespace(level, version),
                    "labels": {"pod-security.kubernetes.io/enforce-version": version},
                },
            }
            for level, version in namespaces
        ],
    }
    if complete:
        lists.update({key: [] for key in WORKLOAD_KEYS})
    for key, items in lists.items():
        document = {"apiVersion": "v1", "kind": "List", "items": items}
        (directory / f"{key}.json").write_bytes(orjson.dumps(document))
    version = {"major": "1", "minor": "37", "gitVersion": "v1.37.0"}
    (directory / "version.json").write_bytes(orjson.dumps(version))


def _rest(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}


@pytest.mark.parametrize("complete", [True, False], ids=["complete", "pods-only"])
def test_it_fails_exactly_the_pods_upstream_fails_for_upstreams_reason(
    tmp_path: Path, complete: bool
) -> None:
    cases = _cases()
    _write_bundle(tmp_path / "bundle", cases, complete=complete)
    inventory = read_bundle(tmp_path / "bundle")
    disagreements = []
    for level in ("baseline", "restricted"):
        outcome = run_check(REGISTRY[f"pss.{level}"], inventory, CheckContext()).outcome
        failing = {(a.namespace, a.name) for a in outcome.affected}
        by_control: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for control, verdict in outcome.controls.items():
            by_control[control] = {(a.namespace, a.name) for a in verdict.affected}
        for case in (c for c in cases if c["level"] == level):
            pod = (_namespace(level, case["version"]), case["pod_name"])
            if (pod in failing) != (case["expected"] == "fail"):
                disagreements.append(f"{case['source_path']} [{level} {case['version']}]")
            elif case["expected"] == "fail":
                reasons = {case["check"], REPLACED_BY.get(case["check"], "")}
                if not any(pod in by_control[reason] for reason in reasons if reason):
                    disagreements.append(f"{case['source_path']}: not failed by {case['check']}")
        assert outcome.status == Status.FAIL
        if complete:
            assert not outcome.missing
        else:
            # Evidence in hand is never hidden; what was not collected is said.
            assert set(outcome.missing) == set(WORKLOAD_KEYS)
            assert "not collected" in outcome.summary
    assert not disagreements, f"{len(disagreements)} disagreements: {disagreements[:20]}"


def test_it_passes_no_control_on_a_pods_only_bundle(tmp_path: Path) -> None:
    """A control no pod violates cannot pass without the controller templates: unknown."""
    cases = [c for c in _cases() if c["expected"] == "pass"][:5]
    _write_bundle(tmp_path / "bundle", cases, complete=False)
    outcome = run_check(
        REGISTRY["pss.baseline"], read_bundle(tmp_path / "bundle"), CheckContext()
    ).outcome
    assert outcome.status == Status.UNKNOWN
    assert {c.status for c in outcome.controls.values()} <= {
        Status.UNKNOWN,
        Status.NOT_APPLICABLE,
    }
