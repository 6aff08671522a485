"""Namespace-level workload isolation: Pod Security Standards, PSA labels, sandboxes, `default`.

The Pod Security checks judge every workload's pod template with the upstream rules
(posture.pss) at the policy version the API server would use for its namespace: the
namespace's `enforce-version` label, else the cluster's own minor. They judge regardless of the
namespace's enforce level, because the question is "would this workload pass", which is what
`kubectl label --dry-run=server ns ... enforce=restricted` answers before anyone turns it on.
"""

from __future__ import annotations

from clusters.inventory import JSON, Inventory
from posture import pss
from posture.checks.base import (
    Affected,
    Area,
    CheckContext,
    Outcome,
    Reference,
    Severity,
    check,
)
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.pod_fields import NSA_POD_SECURITY
from posture.workloads import WORKLOAD_NEEDS, Workload, workloads

GKE_ADMISSION = GKE(
    "I2",
    title="Enforce policies at admission (Policy Controller/Gatekeeper, or PodSecurity admission)",
)
CIS_POLICY_MECHANISM = CIS(
    "5.2.1", title="Ensure that the cluster has at least one active policy control mechanism"
)
CIS_GKE_BASELINE = CIS_GKE(
    "4.2.1", title="Enforce Pod Security Standard Baseline or stricter on all namespaces"
)
# Control-plane namespaces whose pods the platform owns; a PSA label there is the provider's call.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
SANDBOX_HANDLERS = ("gvisor", "runsc")
SANDBOX_HANDLER_PREFIXES = ("kata",)
_FALSE_LABEL_VALUES = frozenset({"", "false", "0", "no", "off"})


def _namespace_labels(inventory: Inventory) -> dict[str, dict[str, str]]:
    return {
        (ns.get("metadata") or {}).get("name", ""): (ns.get("metadata") or {}).get("labels") or {}
        for ns in inventory.items("namespaces")
    }


def _pss_outcome(inventory: Inventory, level: str) -> Outcome:
    """The level's verdict, with the verdict of each of its controls (pss.baseline/sysctls)."""
    labels = _namespace_labels(inventory)
    git_version = inventory.git_version
    # Both levels judge the same workloads; each control runs once per workload (see memo).
    memos = inventory.derived("pss_memos", _new_memos)
    versions: dict[str, str] = {}  # namespace -> the policy version judged there
    found = []
    by_control: dict[str, list[Affected]] = {}
    for workload in workloads(inventory):
        version = versions.get(workload.namespace)
        if version is None:
            _, version = pss.namespace_policy(labels.get(workload.namespace, {}), git_version or "")
            versions[workload.namespace] = version
        violations = pss.evaluate_pod(
            workload.pod_metadata,
            workload.pod_spec,
            level=level,
            version=version,
            memo=memos.setdefault(workload.identity, {}),
        )
        if violations:
            detail = f"{level} {version}: " + "; ".join(str(v) for v in violations)
            found.append(Affected(workload.kind, workload.namespace, workload.name, detail))
            for violation in violations:
                by_control.setdefault(violation.control, []).append(
                    Affected(
                        workload.kind,
                        workload.namespace,
                        workload.name,
                        f"{level} {version}: {violation}",
                    )
                )
    # An unknown server version is judged with the newest rules, which are the strictest.
    note = "" if git_version else " (cluster version unknown: judged at the newest policy version)"
    outcome = Outcome.from_affected(
        found,
        passed=f"Every workload meets Pod Security {level}{note}.",
        failed=f"{{count}} workloads violate Pod Security {level}{note}.",
    )
    judged = set(versions.values()) or {pss.namespace_policy({}, git_version or "")[1]}
    outcome.controls = _control_outcomes(level, judged, by_control)
    return outcome


def _control_outcomes(
    level: str, judged: set[str], by_control: dict[str, list[Affected]]
) -> dict[str, Outcome]:
    """Each control of the level: failing where a workload violates it, else passing where it
    was part of a judged policy version, else not part of any version judged here."""
    active = {
        control.id
        for version in judged
        for control in pss.active_controls(level, pss.parse_minor(version))
    }
    outcomes = {}
    for control in pss.CONTROLS:
        if control.level != level and not (level == "restricted" and control.id in active):
            continue
        if control.id in by_control:
            outcomes[control.id] = Outcome.from_affected(
                by_control[control.id],
                failed=f"{{count}} workloads violate {control.id}.",
            )
        elif control.id in active:
            outcomes[control.id] = Outcome.passed(f"No workload violates {control.id}.")
        else:
            versions = ", ".join(sorted(judged))
            outcomes[control.id] = Outcome.not_applicable(
                f"{control.id} is not part of Pod Security {level} at {versions}.", settled=True
            )
    return outcomes


def _new_memos(inventory: Inventory) -> dict[tuple[str, str, str], pss.ControlMemo]:
    return {}


@check(
    id="pss.baseline",
    title="Workloads violating Pod Security Standards baseline",
    area=Area.ISOLATION,
    severity=Severity.HIGH,
    rationale=(
        "Baseline forbids the known privilege escalations (privileged, host namespaces, "
        "hostPath, host ports, extra capabilities, unconfined seccomp/AppArmor, unsafe "
        "sysctls). A workload that fails it is one bug away from owning its node, and would be "
        "rejected the day the namespace enforces baseline."
    ),
    remediation=(
        "Fix the controls listed per workload, then label the namespace "
        "pod-security.kubernetes.io/enforce=baseline (or restricted)."
    ),
    needs=("namespaces",),
    evidence=WORKLOAD_NEEDS,
    references=(
        Reference("pss", "baseline", title="Baseline policy"),
        CIS_POLICY_MECHANISM,
        CIS_GKE_BASELINE,
        NSA_POD_SECURITY,
        GKE_ADMISSION,
    ),
)
def pss_baseline(inventory: Inventory, context: CheckContext) -> Outcome:
    return _pss_outcome(inventory, "baseline")


@check(
    id="pss.restricted",
    title="Workloads violating Pod Security Standards restricted",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "Restricted is current pod-hardening best practice: non-root, no privilege escalation, "
        "all capabilities dropped, a seccomp profile, only non-node volume types. Workloads "
        "that meet it limit what a compromised container can do."
    ),
    remediation=(
        "Fix the controls listed per workload (runAsNonRoot, allowPrivilegeEscalation: false, "
        'capabilities.drop: ["ALL"], seccompProfile RuntimeDefault), then label the namespace '
        "pod-security.kubernetes.io/enforce=restricted."
    ),
    needs=("namespaces",),
    evidence=WORKLOAD_NEEDS,
    references=(
        Reference("pss", "restricted", title="Restricted policy"),
        NSA_POD_SECURITY,
        GKE_ADMISSION,
    ),
)
def pss_restricted(inventory: Inventory, context: CheckContext) -> Outcome:
    return _pss_outcome(inventory, "restricted")


@check(
    id="isolation.psa_labels_missing",
    title="Namespaces without a Pod Security Admission enforce label",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "Without pod-security.kubernetes.io/enforce a namespace gets the cluster default, "
        "which is privileged unless an AdmissionConfiguration says otherwise: any pod is "
        "admitted. The label is the built-in guardrail that keeps a bad pod from running."
    ),
    remediation=(
        "Label each namespace pod-security.kubernetes.io/enforce=baseline (or restricted), "
        "trying it first with `kubectl label --dry-run=server`. Where a policy engine "
        "(Gatekeeper, Kyverno) enforces the same rules, attest or waive this check."
    ),
    evidence=("namespaces",),
    references=(
        CIS_POLICY_MECHANISM,
        CIS_GKE_BASELINE,
        GKE_ADMISSION,
        NSA_POD_SECURITY,
    ),
)
def psa_labels_missing(inventory: Inventory, context: CheckContext) -> Outcome:
    found = []
    for name, labels in sorted(_namespace_labels(inventory).items()):
        if name in SYSTEM_NAMESPACES:
            continue
        level = labels.get(pss.ENFORCE_LABEL)
        if level is None:
            found.append(
                Affected("Namespace", "", name, "no pod-security.kubernetes.io/enforce label")
            )
        elif level not in pss.LEVELS:
            detail = f'enforce label "{level}" is not a level (upstream enforces restricted)'
            found.append(Affected("Namespace", "", name, detail))
    return Outcome.from_affected(
        found,
        passed="Every namespace sets a Pod Security enforce level.",
        failed="{count} namespaces have no Pod Security enforce level.",
    )


def _is_sandbox(handler: str) -> bool:
    return handler in SANDBOX_HANDLERS or handler.startswith(SANDBOX_HANDLER_PREFIXES)


def _untrusted(labels: dict[str, str], label: str) -> bool:
    return label in labels and labels[label].strip().lower() not in _FALSE_LABEL_VALUES


@check(
    id="isolation.sandbox_untrusted",
    title="Untrusted namespaces running workloads outside a sandbox",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "Code you do not trust (customer code, CI jobs, third-party plugins) shares the node's "
        "kernel unless it runs in a sandboxed runtime such as gVisor or Kata Containers; one "
        "kernel bug is then a node escape."
    ),
    remediation=(
        "Create a RuntimeClass whose handler is a sandbox (GKE Sandbox: gvisor; Kata: kata*) "
        "and set spec.runtimeClassName on every workload in the untrusted namespace."
    ),
    needs=("namespaces", "runtimeclasses"),
    evidence=WORKLOAD_NEEDS,
    references=(
        GKE("H1", title="Isolate untrusted workloads with GKE Sandbox (gVisor)"),
        CIS_GKE("5.10.3", title="Consider GKE Sandbox for running untrusted workloads"),
        NSA("Hardening container engines", title="Hardening container engines"),
    ),
)
def sandbox_untrusted(inventory: Inventory, context: CheckContext) -> Outcome:
    label = context.untrusted_namespace_label
    untrusted = {
        name for name, labels in _namespace_labels(inventory).items() if _untrusted(labels, label)
    }
    if not untrusted:
        return Outcome.not_applicable(f"No namespace is labelled {label}.")
    handlers = {
        (rc.get("metadata") or {}).get("name", ""): str(rc.get("handler") or "")
        for rc in inventory.items("runtimeclasses")
    }
    found = []
    for workload in workloads(inventory):
        if workload.namespace in untrusted:
            problem = _sandbox_problem(workload, handlers)
            if problem:
                found.append(Affected(workload.kind, workload.namespace, workload.name, problem))
    return Outcome.from_affected(
        found,
        passed=f"Every workload in {len(untrusted)} untrusted namespaces runs in a sandbox.",
        failed="{count} workloads in untrusted namespaces run without a sandbox.",
    )


def _sandbox_problem(workload: Workload, handlers: dict[str, str]) -> str | None:
    name = workload.pod_spec.get("runtimeClassName")
    if not name:
        return "spec.runtimeClassName unset (default runtime, shares the node kernel)"
    if name not in handlers:
        return f'spec.runtimeClassName="{name}" names no RuntimeClass in the cluster'
    if not _is_sandbox(handlers[name]):
        return f'spec.runtimeClassName="{name}" uses handler "{handlers[name]}", not a sandbox'
    return None


def _in_default(item: JSON) -> bool:
    return (item.get("metadata") or {}).get("namespace") == "default"


@check(
    id="isolation.default_namespace",
    title="Workloads in the default namespace",
    area=Area.ISOLATION,
    severity=Severity.LOW,
    rationale=(
        "The default namespace is where everything lands by accident; it rarely has its own "
        "RBAC, network policies or Pod Security labels, so nothing there is deliberately isolated."
    ),
    remediation="Move workloads and Services into namespaces per team or application.",
    evidence=(*WORKLOAD_NEEDS, "services"),
    references=(
        CIS("5.6.4", title="The default namespace should not be used"),
        CIS_GKE("4.6.4", title="The default namespace should not be used"),
        GKE("E2", title="Separate teams/environments into namespaces or clusters"),
    ),
)
def default_namespace(inventory: Inventory, context: CheckContext) -> Outcome:
    found = [
        Affected(w.kind, w.namespace, w.name, "runs in the default namespace")
        for w in workloads(inventory)
        if w.namespace == "default"
    ]
    found += [
        Affected(
            "Service",
            "default",
            (svc.get("metadata") or {}).get("name", ""),
            "Service in the default namespace",
        )
        for svc in inventory.items("services")
        # The API server's own Service lives in default by design.
        if _in_default(svc) and (svc.get("metadata") or {}).get("name") != "kubernetes"
    ]
    return Outcome.from_affected(
        found,
        passed="Nothing but the kubernetes Service uses the default namespace.",
        failed="{count} objects in the default namespace.",
    )
