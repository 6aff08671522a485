"""Node-level CIS results: what `kube-bench run --json` prints, imported per node.

The CIS Kubernetes Benchmark's sections 1-4 (control-plane files and flags, etcd, audit
policy, kubelet) are only visible on the nodes themselves (hardening.md §0.1 NODE). Rampart
does not read nodes; it imports kube-bench's own output, documented as

    {"Controls": [{"id": "1", "version": "cis-1.12", "text": ..., "node_type": "master",
                   "tests": [{"section": "1.1", "desc": ...,
                              "results": [{"test_number": "1.1.1", "test_desc": ...,
                                           "status": "PASS|FAIL|WARN|INFO",
                                           "actual_value": ..., "expected_result": ...,
                                           "remediation": ..., "scored": true,
                                           "reason": ...}, ...]}, ...],
                   "total_pass": ..., ...}, ...],
     "Totals": {...}}

(an older kube-bench printed one such control object, or a list of them: both accepted).
It is an extra input (clusters.resources.extra_input) taken from the first of:

    the run's evidence bundle   kube-bench/<node>.json, one file per node
    the live cluster            the logs of the latest kube-bench Job's pods (clusters.kube)
    an upload                   the JSON uploaded per node on the cluster page, until replaced

Checks read `Inventory.node_benchmarks["nodes"]`: node name -> {"source", "results":
{test number: result}}; without any, the kube-bench checks are unknown with "needs node-level
evidence", never a pass. Documents are held to the shape above within hard limits: anything
else is refused with one line naming the first problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from clusters.inventory import JSON, Inventory, KindStatus
from clusters.redaction import redact
from clusters.resources import extra_input

KUBE_BENCH = extra_input(
    "kube-bench",
    "node-level CIS results (kube-bench run --json), per node",
    absent="needs node-level evidence (no kube-bench results imported)",
)
BUNDLE_DIRECTORY = "kube-bench"
STATUSES = frozenset({"PASS", "FAIL", "WARN", "INFO"})
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a full master run is ~60 KB; 4 MiB leaves room
MAX_RESULTS = 2_000  # per document: cis-1.12 has ~120 tests across all targets
MAX_NODES = 500
_TEXT_LIMIT = 1_000  # per text field kept: actual values can be whole command lines


class KubeBenchError(ValueError):
    """A document that is not kube-bench's JSON output; the message is one line."""


def _text(value: Any) -> str:
    flat = " ".join(str(value if value is not None else "").split())
    return flat if len(flat) <= _TEXT_LIMIT else flat[: _TEXT_LIMIT - 1] + "…"


def _controls(document: Any, where: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        raise KubeBenchError(f"{where} is not a JSON object: not kube-bench --json output")
    if "Controls" in document:
        controls = document["Controls"]
        if not isinstance(controls, list):
            raise KubeBenchError(f"{where}: `Controls` is not a list")
        return controls
    if "tests" in document:
        return [document]  # an older kube-bench: one control object per target
    raise KubeBenchError(f"{where} has no `Controls`: not kube-bench --json output")


def results_checked(document: Any, *, where: str) -> JSON:
    """{test number: result} from one kube-bench run, or KubeBenchError in one line."""
    controls = _controls(document, where)
    if not controls:
        raise KubeBenchError(f"{where}: `Controls` is empty")
    results: JSON = {}
    for c_index, control in enumerate(controls):
        at = f"{where} Controls[{c_index}]"
        if not isinstance(control, dict):
            raise KubeBenchError(f"{at} is not an object")
        version = control.get("version")
        if not isinstance(version, str) or not version:
            raise KubeBenchError(f"{at} has no `version` (the benchmark, e.g. cis-1.12)")
        tests = control.get("tests")
        if not isinstance(tests, list):
            raise KubeBenchError(f"{at}: `tests` is not a list")
        for t_index, group in enumerate(tests):
            if not isinstance(group, dict) or not isinstance(group.get("results"), list):
                raise KubeBenchError(f"{at} tests[{t_index}] has no `results` list")
            for r_index, result in enumerate(group["results"]):
                _result(results, result, control, f"{at} tests[{t_index}] results[{r_index}]")
                if len(results) > MAX_RESULTS:
                    raise KubeBenchError(f"{where} holds more than {MAX_RESULTS} results")
    if not results:
        raise KubeBenchError(f"{where} holds no test results")
    return results


def _result(results: JSON, result: Any, control: Mapping[str, Any], at: str) -> None:
    if not isinstance(result, dict):
        raise KubeBenchError(f"{at} is not an object")
    number, status = result.get("test_number"), result.get("status")
    if not isinstance(number, str) or not number or len(number) > 20:
        raise KubeBenchError(f"{at} has no `test_number`")
    if status not in STATUSES:
        raise KubeBenchError(f"{at} ({number}): status {status!r} is not PASS, FAIL, WARN or INFO")
    results[number] = {
        "status": status,
        "desc": _text(result.get("test_desc")),
        "actual": _text(result.get("actual_value")),
        "expected": _text(result.get("expected_result")),
        "reason": _text(result.get("reason")),
        "remediation": _text(result.get("remediation")),
        "scored": bool(result.get("scored", False)),
        "version": _text(control.get("version")),
        "node_type": _text(control.get("node_type")),
    }


def node_name_checked(name: str) -> str:
    """A node name as Kubernetes writes them (a DNS subdomain), else KubeBenchError."""
    cleaned = name.strip().lower()
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-.")
    if not cleaned or len(cleaned) > 253 or not set(cleaned) <= allowed:
        raise KubeBenchError(f"{name[:60]!r} is not a node name (lowercase letters, digits, - .)")
    return cleaned


def kube_bench_set(
    inventory: Inventory, nodes: Mapping[str, JSON], *, problems: Iterable[str] = ()
) -> None:
    """Record the imported runs ({node: {"source", "results"}}): the input is OK from here on.
    `problems` names runs that could not be read beside them (shown, never judged)."""
    inventory.node_benchmarks = {
        "nodes": {name: dict(nodes[name]) for name in sorted(nodes)},
        "problems": [redact(problem) for problem in problems],
    }
    inventory.kind_status[KUBE_BENCH.key] = KindStatus.OK
    inventory.kind_errors.pop(KUBE_BENCH.key, None)
    inventory.forget_derived()


def kube_bench_missing(inventory: Inventory, status: KindStatus, reason: str) -> None:
    inventory.node_benchmarks = {}
    inventory.kind_status[KUBE_BENCH.key] = status
    inventory.kind_errors[KUBE_BENCH.key] = redact(" ".join(reason.split()))[:500]
    inventory.forget_derived()


def kube_bench_from_files(
    inventory: Inventory, files: Mapping[str, Any], unreadable: Mapping[str, str]
) -> None:
    """The bundle's kube-bench/<node>.json files (node -> parsed JSON), and those that were
    not JSON (node -> why): OK with every valid run, ERROR when none is valid."""
    nodes: dict[str, JSON] = {}
    problems = [f"kube-bench/{node}.json: {why}" for node, why in sorted(unreadable.items())]
    for node, document in sorted(files.items()):
        where = f"kube-bench/{node}.json"
        try:
            nodes[node_name_checked(node)] = {
                "source": f"{where} in the bundle",
                "results": results_checked(document, where=where),
            }
        except KubeBenchError as exc:
            problems.append(str(exc))
    if nodes:
        kube_bench_set(inventory, nodes, problems=problems)
    elif problems:
        kube_bench_missing(inventory, KindStatus.ERROR, "; ".join(problems))
    else:
        kube_bench_missing(
            inventory, KindStatus.NOT_COLLECTED, "no kube-bench/<node>.json in the bundle"
        )


def imported_nodes(inventory: Inventory) -> dict[str, JSON]:
    """Node name -> {"source", "results"} of the imported runs ({} when none)."""
    nodes: dict[str, JSON] = (inventory.node_benchmarks or {}).get("nodes") or {}
    return nodes
