"""Conformance with kubernetes/pod-security-admission's own fixtures (the shared oracle).

Each oracle case is one pod, a level, a policy version and upstream's verdict. A failing case
must also fail for the reason upstream names: the expected check id, or the restricted control
that replaces it at that version (e.g. restrictedVolumes replaces hostPathVolumes).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from posture.pss import LATEST_MINOR, ControlMemo, active_controls, evaluate_pod, parse_minor

REPLACED_BY = {
    "hostPathVolumes": "restrictedVolumes",
    "seccompProfile_baseline": "seccompProfile_restricted",
    "capabilities_baseline": "capabilities_restricted",
    "procMount": "procMount_restricted",
}


def _oracle_dir() -> Path:
    configured = os.environ.get("RAMPART_ORACLE_DIR")
    if configured:
        return Path(configured) / "pss"
    # posture/tests/ -> repo root -> its sibling ../shared/oracle
    return Path(__file__).resolve().parents[2].parent / "shared" / "oracle" / "pss"


ORACLE = _oracle_dir()
CASES_FILE = ORACLE / "cases.jsonl"
pytestmark = pytest.mark.skipif(
    not CASES_FILE.is_file(),
    reason=f"PSS oracle not found at {CASES_FILE} (set RAMPART_ORACLE_DIR to the oracle folder)",
)


@dataclass(frozen=True)
class Verdict:
    case: dict[str, Any]
    got: str
    controls: tuple[str, ...]

    @property
    def agrees(self) -> bool:
        if self.got != self.case["expected"]:
            return False
        if self.got == "pass":
            return True
        check = self.case["check"]
        return check in self.controls or REPLACED_BY.get(check) in self.controls

    def describe(self) -> str:
        c = self.case
        return (
            f"{c['source_path']} [{c['level']} {c['version']}] expected {c['expected']} "
            f"({c['check']}), got {self.got} {list(self.controls)}"
        )


@cache
def _manifest(relative: str) -> dict[str, Any]:
    with (ORACLE / relative).open() as handle:
        document: dict[str, Any] = yaml.safe_load(handle)
    return document


@cache
def _verdicts() -> tuple[Verdict, ...]:
    verdicts = []
    with CASES_FILE.open() as handle:
        for line in handle:
            if not line.strip():
                continue
            case = json.loads(line)
            pod = _manifest(case["manifest_files"][0])
            violations = evaluate_pod(
                pod.get("metadata"), pod.get("spec"), level=case["level"], version=case["version"]
            )
            got = "fail" if violations else "pass"
            verdicts.append(Verdict(case, got, tuple(v.control for v in violations)))
    return tuple(verdicts)


def _report(verdicts: list[Verdict]) -> str:
    by_check: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for verdict in verdicts:
        by_check[verdict.case["check"]] += 1
        agreed[verdict.case["check"]] += verdict.agrees
    rows = [f"{'check':32} agree / cases"]
    rows += [f"{check:32} {agreed[check]:5} / {by_check[check]}" for check in sorted(by_check)]
    return "\n".join(rows)


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_it_agrees_with_upstream_on_every_case(level: str) -> None:
    verdicts = [v for v in _verdicts() if v.case["level"] == level]
    assert verdicts, f"no {level} cases in {CASES_FILE}"
    print(f"\nPSS {level}: per-check agreement\n{_report(verdicts)}")
    disagreements = [v.describe() for v in verdicts if not v.agrees]
    agreed = len(verdicts) - len(disagreements)
    assert not disagreements, (
        f"{agreed}/{len(verdicts)} {level} cases agree; disagreements:\n" + "\n".join(disagreements)
    )


def test_it_covers_the_whole_oracle() -> None:
    verdicts = _verdicts()
    total = sum(1 for line in CASES_FILE.open() if line.strip())
    assert len(verdicts) == total
    assert sum(v.agrees for v in verdicts) == total


def test_it_implements_every_version_the_oracle_names() -> None:
    versions = {v.case["version"] for v in _verdicts()}
    assert max(parse_minor(version) for version in versions) == LATEST_MINOR
    assert parse_minor("latest") == LATEST_MINOR


def test_it_treats_versions_newer_than_known_as_latest() -> None:
    pod_spec = {"containers": [{"name": "app", "securityContext": {"privileged": True}}]}
    newest = evaluate_pod({}, pod_spec, level="baseline", version="latest")
    future = evaluate_pod({}, pod_spec, level="baseline", version="v1.99")
    assert newest == future
    assert [v.control for v in newest] == ["privileged"]
    assert newest[0].detail == 'container "app" must not set securityContext.privileged=true'


def test_it_allows_everything_at_privileged() -> None:
    pod_spec = {"hostPID": True, "containers": [{"name": "app"}]}
    assert evaluate_pod({}, pod_spec, level="privileged", version="latest") == []
    assert active_controls("privileged", LATEST_MINOR) == []


def test_it_judges_alike_when_both_levels_share_a_memo() -> None:
    # pod_security runs baseline then restricted with one memo per workload; every oracle pod,
    # at every version, must get exactly the violations it gets without one.
    for case in {(c.case["manifest_files"][0], c.case["version"]) for c in _verdicts()}:
        pod = _manifest(case[0])
        memo: ControlMemo = {}
        for level in ("baseline", "restricted"):
            alone = evaluate_pod(pod.get("metadata"), pod.get("spec"), level=level, version=case[1])
            shared = evaluate_pod(
                pod.get("metadata"), pod.get("spec"), level=level, version=case[1], memo=memo
            )
            assert shared == alone, (case, level)
