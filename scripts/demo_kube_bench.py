"""kube-bench runs as `kube-bench run --json` prints them, for demo bundles and test fixtures.

    kube_bench_run(targets=("master", "etcd", "controlplane"), outcomes={...})

builds one node's run in kube-bench's documented JSON: `Controls` (one per target, with its
`tests` groups and `results`, each result with test_number, test_desc, audit, type,
remediation, test_info, status, actual_value, scored, IsMultiple, expected_result, reason) and
`Totals`. Item ids and titles are those of posture/guides/cis-kubernetes.yaml (kube-bench
cfg/cis-1.12); every item passes unless `outcomes` says otherwise. kube-bench's manual-type
items always answer WARN, as kube-bench does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

GUIDE = Path(__file__).resolve().parents[1] / "posture" / "guides" / "cis-kubernetes.yaml"
# target -> (control id, control text, node_type, sections), as cfg/cis-1.12 names them.
TARGETS = {
    "master": ("1", "Control Plane Security Configuration", "master", ("1.1", "1.2", "1.3", "1.4")),
    "etcd": ("2", "Etcd Node Configuration", "etcd", ("2",)),
    "controlplane": ("3", "Control Plane Configuration", "controlplane", ("3.1", "3.2")),
    "node": ("4", "Worker Node Security Configuration", "node", ("4.1", "4.2", "4.3")),
}
STATUSES = ("PASS", "FAIL", "WARN", "INFO")
Outcome = tuple[str, str, str]  # (status, actual_value, expected_result)


def _guide() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(GUIDE.read_text())
    return {str(section["id"]): section for section in document["sections"]}


def _result(item: dict[str, Any], outcome: Outcome | None) -> dict[str, Any]:
    manual = bool(item.get("manual"))
    status, actual, expected = outcome or ("WARN" if manual else "PASS", "", "")
    suffix = "(Manual)" if manual else "(Automated)"
    return {
        "test_number": item["id"],
        "test_desc": f"{item['title']} {suffix}",
        "audit": "" if manual else "/bin/ps -ef | grep kube | grep -v grep",
        "AuditEnv": "",
        "AuditConfig": "",
        "type": "manual" if manual else "",
        "remediation": f"See CIS Kubernetes Benchmark {item['id']}.",
        "test_info": [f"See CIS Kubernetes Benchmark {item['id']}."],
        "status": status,
        "actual_value": actual,
        "scored": not manual,
        "IsMultiple": False,
        "expected_result": expected,
        "reason": "Test marked as a manual test" if manual and status == "WARN" else "",
    }


def kube_bench_run(
    *, targets: tuple[str, ...], outcomes: dict[str, Outcome], detected: str = "1.33"
) -> dict[str, Any]:
    sections = _guide()
    controls = []
    totals = {"total_pass": 0, "total_fail": 0, "total_warn": 0, "total_info": 0}
    for target in targets:
        control_id, text, node_type, groups = TARGETS[target]
        tests = []
        counts = dict.fromkeys(totals, 0)
        for group in groups:
            section = sections[group]
            results = [_result(item, outcomes.get(item["id"])) for item in section["items"]]
            tally = {s: sum(r["status"] == s for r in results) for s in STATUSES}
            tests.append(
                {
                    "section": group,
                    "type": "",
                    "pass": tally["PASS"],
                    "fail": tally["FAIL"],
                    "warn": tally["WARN"],
                    "info": tally["INFO"],
                    "desc": section["title"],
                    "results": results,
                }
            )
            for status, count in tally.items():
                counts[f"total_{status.lower()}"] += count
        controls.append(
            {
                "id": control_id,
                "version": "cis-1.12",
                "detected_version": detected,
                "text": text,
                "node_type": node_type,
                "tests": tests,
                **counts,
            }
        )
        for key, count in counts.items():
            totals[key] += count
    return {"Controls": controls, "Totals": totals}
