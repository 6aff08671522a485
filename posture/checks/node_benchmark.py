"""CIS Kubernetes Benchmark sections 1-4, judged from imported kube-bench runs.

What only the nodes show (control-plane file permissions and flags, etcd TLS, the audit
policy, kubelet settings) comes from kube-bench's own JSON (clusters/kube_bench.py), one run
per node. One check per CIS section; each benchmark item is a control of it, named
`<check>/<item id>` by the guide (posture/guides/cis-kubernetes.yaml), so an item is judged by
its own result only. kube-bench's statuses map honestly:

    FAIL   on any node            fail: every failing node is affected, actual vs expected
    WARN / INFO (no FAIL)         manual: kube-bench could not decide, a person must
                                  (the item awaits an attestation; never a pass)
    PASS   on every node that ran it   pass
    no result for the item        unknown, with which runs were imported

Only runs of a CIS Kubernetes benchmark (`cis-1.x`) count: kube-bench's GKE, EKS or
distribution benchmarks number their items differently (CIS GKE 4.1.1 is an RBAC item, CIS
Kubernetes 4.1.1 a kubelet file), so their results are named and never matched by number.
Without any imported run the checks are unknown, "needs node-level evidence". On a managed
control plane (GKE, EKS, AKS) sections 1-3 are the provider's: not applicable, settled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from clusters.distribution import LABELS, MANAGED, distribution_of
from clusters.inventory import JSON, Inventory
from clusters.kube_bench import KUBE_BENCH, imported_nodes
from posture.checks.base import Affected, Area, Check, CheckContext, Outcome, Severity, check
from posture.checks.guides import CIS
from posture.status import Status

_CIS_BENCHMARK = re.compile(r"^cis-\d")


def _numbered(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}.{index}" for index in range(1, count + 1))


# The item ids of kube-bench's cfg/cis-1.12 (hardening.md §2.1), by CIS section.
ITEMS: dict[str, tuple[str, ...]] = {
    "1": (
        *_numbered("1.1", 21),
        *_numbered("1.2", 30),
        *_numbered("1.3", 7),
        *_numbered("1.4", 2),
    ),
    "2": _numbered("2", 7),
    "3": (*_numbered("3.1", 3), *_numbered("3.2", 2)),
    "4": (*_numbered("4.1", 10), *_numbered("4.2", 14), *_numbered("4.3", 1)),
}
CONTROL_PLANE_SECTIONS = frozenset({"1", "2", "3"})


@dataclass(frozen=True)
class _Run:
    node: str
    results: JSON  # test number -> result (clusters.kube_bench)


def _runs(inventory: Inventory) -> tuple[list[_Run], list[str]]:
    """The imported CIS Kubernetes runs, and the other benchmarks imported beside them."""
    runs: list[_Run] = []
    others: list[str] = []
    for node, entry in imported_nodes(inventory).items():
        results = entry.get("results") or {}
        kept = {
            number: result
            for number, result in results.items()
            if _CIS_BENCHMARK.match(str(result.get("version", "")))
        }
        versions = {str(r.get("version", "")) for r in results.values()} - {""}
        others.extend(f"{node} ({v})" for v in sorted(versions) if not _CIS_BENCHMARK.match(v))
        if kept:
            runs.append(_Run(node, kept))
    return runs, others


def _versions(runs: Iterable[_Run]) -> str:
    found = sorted({str(r.get("version")) for run in runs for r in run.results.values()})
    return ", ".join(found)


def _evidence(number: str, result: JSON) -> str:
    actual = result.get("actual") or "(nothing found)"
    expected = result.get("expected") or "(not stated)"
    return f"{number} {result['status']}: actual {actual}; expected {expected}"


def _control(number: str, runs: list[_Run], others: list[str]) -> Outcome:
    found = [(run.node, run.results[number]) for run in runs if number in run.results]
    if not found:
        ran = ", ".join(run.node for run in runs) or "none"
        other = f"; other benchmarks imported: {', '.join(others)}" if others else ""
        return Outcome.unknown(
            f"No kube-bench result for {number} in the imported CIS runs "
            f"(nodes: {ran}{other}); import the run of a node this item applies to."
        )
    failing = [(node, result) for node, result in found if result["status"] == "FAIL"]
    if failing:
        affected = [Affected("Node", "", node, _evidence(number, r)) for node, r in failing]
        nodes = ", ".join(node for node, _ in failing)
        return Outcome.failed(
            affected,
            f"kube-bench FAIL on {nodes}: actual {failing[0][1].get('actual') or '(nothing)'}, "
            f"expected {failing[0][1].get('expected') or '(not stated)'}.",
        )
    undecided = [(node, r) for node, r in found if r["status"] in ("WARN", "INFO")]
    if undecided:
        result = undecided[0][1]
        why = result.get("reason") or result.get("remediation") or result.get("desc") or ""
        nodes = ", ".join(f"{n} {r['status']}" for n, r in undecided)
        return Outcome(
            Status.MANUAL,
            [],
            f"kube-bench could not decide ({nodes}): a person must check it. {why}".strip(),
        )
    nodes = ", ".join(node for node, _ in found)
    return Outcome.passed(f"kube-bench PASS on {nodes}.")


def section_outcome(section: str, inventory: Inventory) -> Outcome:
    """The verdict of one CIS section, with one control per benchmark item."""
    distribution = distribution_of(inventory)
    if section in CONTROL_PLANE_SECTIONS and distribution in MANAGED:
        return Outcome.not_applicable(
            f"Provider responsibility: {LABELS[distribution]} runs the control plane; its "
            "files and flags cannot be read or changed by the customer.",
            settled=True,
        )
    if not inventory.has(KUBE_BENCH.key):
        return Outcome(
            Status.UNKNOWN,
            [],
            f"{KUBE_BENCH.absent}: import kube-bench --json output (kube-bench/<node>.json in "
            "a bundle, an upload on the cluster page, or a kube-bench Job the reader may read).",
            missing=(KUBE_BENCH.key,),
        )
    runs, others = _runs(inventory)
    controls = {number: _control(number, runs, others) for number in ITEMS[section]}
    failed = [c for c in controls.values() if c.status == Status.FAIL]
    counts = {
        status: sum(c.status == status for c in controls.values())
        for status in (Status.PASS, Status.FAIL, Status.MANUAL, Status.UNKNOWN)
    }
    tally = (
        f"{counts[Status.PASS]} pass, {counts[Status.FAIL]} fail, "
        f"{counts[Status.MANUAL]} for a person to check (WARN/INFO), "
        f"{counts[Status.UNKNOWN]} not in the imported runs"
    )
    where = f"kube-bench {_versions(runs) or 'no CIS run'} on {len(runs)} node(s)"
    if failed:
        outcome = Outcome.failed(
            [item for c in failed for item in c.affected], f"{where}: {tally}."
        )
    elif counts[Status.UNKNOWN]:
        outcome = Outcome.unknown(f"{where}: {tally}.")
    else:
        outcome = Outcome.passed(f"{where}: {tally}.")
    outcome.controls = controls
    return outcome


def _section_check(section: str) -> Callable[[Inventory, CheckContext], Outcome]:
    def evaluate(inventory: Inventory, context: CheckContext) -> Outcome:
        return section_outcome(section, inventory)

    return evaluate


_COMMON = (
    "Results come from kube-bench runs imported for this cluster (a bundle's "
    "kube-bench/<node>.json, an upload, or the logs of the latest kube-bench Job); Rampart "
    "never reads node files itself. WARN and INFO results are kube-bench saying a person must "
    "decide: those items await an attestation."
)


def _check(
    section: str, id: str, title: str, severity: Severity, rationale: str, remediation: str
) -> Check:
    return check(
        id=id,
        title=title,
        area=Area.ACCESS,
        severity=severity,
        rationale=f"{rationale} {_COMMON}",
        remediation=remediation,
        references=(CIS(section),),
    )(_section_check(section))


control_plane = _check(
    "1",
    "node.cis_control_plane",
    "CIS 1: control-plane node files, API server, controller manager and scheduler",
    Severity.HIGH,
    "The static-pod manifests, kubeconfigs and PKI on control-plane nodes, and the flags of "
    "the API server, controller manager and scheduler, decide who can reach and change the "
    "cluster (CIS Kubernetes section 1).",
    "Apply the remediation kube-bench prints for each failing item on the control-plane "
    "node, then run kube-bench again and import its output.",
)
etcd = _check(
    "2",
    "node.cis_etcd",
    "CIS 2: etcd TLS and client authentication",
    Severity.HIGH,
    "etcd holds every object, Secrets included: without TLS and client-certificate "
    "authentication anyone reaching it reads and writes the cluster (CIS Kubernetes section 2).",
    "Set the etcd TLS and client-certificate flags kube-bench names on each etcd node.",
)
control_plane_configuration = _check(
    "3",
    "node.cis_control_plane_configuration",
    "CIS 3: control-plane authentication and audit logging",
    Severity.MEDIUM,
    "How users authenticate and what the API server audits (CIS Kubernetes section 3); most "
    "items are kube-bench manual checks.",
    "Use OIDC (not client certificates or tokens) for people and configure an audit policy "
    "covering Secrets, pod changes and exec.",
)
worker_nodes = _check(
    "4",
    "node.cis_worker_nodes",
    "CIS 4: worker node files, kubelet and kube-proxy",
    Severity.HIGH,
    "The kubelet's anonymous access, authorization mode, read-only port and certificates, and "
    "the permissions of its files, guard every node (CIS Kubernetes section 4).",
    "Apply the remediation kube-bench prints for each failing item on the nodes it names, "
    "then run kube-bench again and import its output.",
)
