"""Agreement with FairwindsOps/polaris's check fixtures, for the concepts Rampart also checks.

Each oracle case is a manifest and Polaris's verdict for one of its checks. The objects are
loaded into an Inventory as a collection would, the Rampart check for that concept runs, and
its pass/fail is compared. Every disagreement must be a real difference in semantics, listed in
DOCUMENTED_DIFFERENCES with the reason; anything else is a bug to fix. Concepts whose Rampart
check is not registered (yet) are reported as not implemented, not failed.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

import posture.checks  # noqa: F401  (registers the whole catalog)
from clusters.inventory import Inventory
from clusters.resources import BY_KIND
from posture.checks.base import REGISTRY, CheckContext, Status, run_check

# Polaris concept -> the Rampart check that judges the same thing.
CONCEPT_CHECKS: dict[str, str] = {
    "privileged": "isolation.privileged",
    "hostIPC": "isolation.host_namespaces",
    "hostNetwork": "isolation.host_namespaces",
    "hostPID": "isolation.host_namespaces",
    "hostPath": "isolation.host_path",
    "hostPorts": "isolation.host_ports",
    "allowPrivilegeEscalation": "isolation.privilege_escalation",
    "runAsNonRoot": "isolation.run_as_root",
    "capabilities_added": "isolation.added_capabilities",
    "capabilities_not_dropped_all": "isolation.capabilities_not_dropped",
    "windows_host_process": "isolation.windows_host_process",
    # Rampart judges /proc masking as part of Pod Security baseline (upstream procMount).
    "procMount": "pss.baseline",
    "rbac_cluster_admin_binding": "access.cluster_admin_bindings",
    "rbac_pod_exec": "access.pod_exec",
    "automount_sa_token": "access.automounted_tokens",
    "networkpolicy_missing": "network.pods_unselected",
    "ingress_tls": "network.ingress_tls",
    "image_tag_latest": "supply_chain.mutable_tags",
}
# Where one Rampart check covers several concepts, only findings whose detail names this
# concept's field count: a procMount fixture with a hostPort must not fail on the hostPort.
CONCEPT_DETAIL: dict[str, str] = {
    "hostIPC": "spec.hostIPC=true",
    "hostNetwork": "spec.hostNetwork=true",
    "hostPID": "spec.hostPID=true",
    "procMount": "procMount:",
}
# Polaris concepts with no Rampart counterpart (reliability and resource hygiene, or a
# different question), listed so a new concept in the oracle is noticed rather than ignored.
NOT_RAMPART_CONCEPTS = frozenset(
    {
        "pdb_vs_hpa",
        "pdb_missing",
        "pdb_zero_disruptions",
        "hpa_max_replicas",
        "hpa_min_replicas",
        "image_pull_policy",
        "resources_limits",
        "resources_requests",
        "labels_instance_mismatch",
        "topology_spread",
        "replicas",
        "liveness_probe",
        "readiness_probe",
        "priority_class",
        "readOnlyRootFilesystem",
        # Polaris asks for any one of seccomp/AppArmor/SELinux/drop ALL (CIS 5.6.3); Rampart
        # checks seccomp and capabilities separately, which answers a different question.
        "linux_hardening",
        # Polaris flags literal values in env vars with secret-sounding names, and passes
        # secretKeyRef; Rampart's isolation.secrets_in_env (CIS 5.4.1) flags exactly secretKeyRef.
        "sensitive_env_var",
        "sensitive_configmap",
    }
)

_BINDING_NAME_EXEMPT = (
    "Polaris exempts bindings by their own name (system:*, cluster-admin, "
    "gce:podsecuritypolicy:calico-sa); the subject here is an ordinary user (testuser), and a "
    "binding's name is chosen by whoever creates it, so Rampart judges the subjects instead."
)
_ROLE_NOT_GRANTED = (
    "Polaris flags a Role/ClusterRole that allows pods/exec or pods/attach even when nothing "
    "binds it; Rampart reports who holds the permission, and an unbound role grants nothing "
    "(binding it later is a new finding)."
)
_MISSING_ROLE = (
    "Polaris flags a binding to a role that does not exist (it could be created later); "
    "Rampart reports current grants, and a dangling roleRef grants nothing until the role exists."
)
_EXPLICIT_VERBS = (
    "Polaris treats a role listing the standard verbs on */* as cluster-admin; Rampart's "
    "access.cluster_admin_bindings means cluster-admin or `*` verbs on `*` (what cluster-admin "
    "is). The same grant is still reported by the per-permission checks (access.secrets_readers, "
    "access.pod_creators, ...)."
)
_NAMESPACED_ROLE = (
    "A namespaced Role with `*` on `*` is admin of one namespace, not cluster-admin; Rampart's "
    "per-permission checks (access.secrets_readers, access.pod_exec, ...) report that grant."
)
_CLUSTERROLE_VIA_ROLEBINDING = (
    "Polaris's rolebindingRolePodExecAttach only follows RoleBindings to Roles; this RoleBinding "
    "grants a `*` ClusterRole (exec included) in its namespace, a real grant Rampart reports."
)
_DROP_NAMED_CAPABILITIES = (
    "Polaris accepts dropping each capability on its insecure list by name; Rampart follows "
    'CIS 5.2.9 and restricted Pod Security: only drop ["ALL"] passes, since a named list '
    "keeps everything it forgets."
)
_NETPOL_DIRECTIONS = (
    "Polaris wants one policy covering both ingress and egress; Rampart's "
    "network.pods_unselected asks whether any NetworkPolicy selects the pod, and missing "
    "egress isolation is network.default_deny_egress_missing's finding."
)
_TLS_HOSTLESS_RULE = (
    "Polaris only asks that spec.tls is non-empty; Rampart requires every rule's host to be "
    "covered, and a rule without a host serves every host, including ones outside the TLS list."
)

# source_path -> why Polaris and Rampart rightly disagree on that fixture.
DOCUMENTED_DIFFERENCES: dict[str, str] = {
    **{
        f"test/checks/{check}/failure.{name}.yaml": _ROLE_NOT_GRANTED
        for check in ("clusterrolePodExecAttach", "rolePodExecAttach")
        for name in (
            "all_wildcards",
            "attach_explicit",
            "attach_using_verb_wildcard",
            "create_attach_and_exec_using_resource_wildcard",
            "create_attach_using_apigroup_wildcard",
            "create_exec_using_apigroup_wildcard",
            "exec_explicit",
            "exec_verb_wildcard",
            "get_attach_and_exec_using_resource_wildcard",
            "get_attach_using_apigroup_wildcard",
            "get_exec_using_apigroup_wildcard",
        )
    },
    **{
        f"test/checks/{check}/failure.binding_points_to_missing_ref.yaml": _MISSING_ROLE
        for check in (
            "clusterrolebindingPodExecAttach",
            "rolebindingClusterRolePodExecAttach",
            "rolebindingRolePodExecAttach",
        )
    },
    **{
        f"test/checks/{check}/success.{name}.yaml": _BINDING_NAME_EXEMPT
        for check in (
            "clusterrolebindingClusterAdmin",
            "rolebindingClusterAdminClusterRole",
            "clusterrolebindingPodExecAttach",
            "rolebindingClusterRolePodExecAttach",
            "rolebindingRolePodExecAttach",
        )
        for name in ("gce_calico_binding", "system_prefix_binding")
    },
    "test/checks/clusterrolebindingPodExecAttach/"
    "success.defaultclusterrolebinding_clusteradmin.yaml": _BINDING_NAME_EXEMPT,
    "test/checks/clusterrolebindingPodExecAttach/success.defaultclusterrolebinding_"
    "system-controller-generic-garbage-collector.yaml": _BINDING_NAME_EXEMPT,
    "test/checks/rolebindingRolePodExecAttach/success.role_binding_cluster_role_binding.yaml": (
        _CLUSTERROLE_VIA_ROLEBINDING
    ),
    **{
        f"test/checks/{check}/failure.{name}.yaml": _EXPLICIT_VERBS
        for check in ("clusterrolebindingClusterAdmin", "rolebindingClusterAdminClusterRole")
        for name in ("all_verbs", "all_verbs_different_order")
    },
    **{
        f"test/checks/rolebindingClusterAdminRole/failure.{name}.yaml": _NAMESPACED_ROLE
        for name in (
            "all_verbs",
            "all_verbs_different_order",
            "binding_to_system_prefix",
            "wildcards",
        )
    },
    **{
        f"test/checks/insecureCapabilities/success.{name}.yaml": _DROP_NAMED_CAPABILITIES
        for name in ("case", "pod")
    },
    "test/checks/insecureCapabilities/success.yaml": _DROP_NAMED_CAPABILITIES,
    **{
        f"test/checks/missingNetworkPolicy/failure.netpol_missing_{name}.yaml": _NETPOL_DIRECTIONS
        for name in (
            "egress_in_policytypes",
            "egress_rules",
            "ingress_in_policytypes",
            "ingress_rules",
        )
    },
    "test/checks/tlsSettingsMissing/success.yaml": _TLS_HOSTLESS_RULE,
}


def _oracle_dir() -> Path:
    configured = os.environ.get("RAMPART_ORACLE_DIR")
    if configured:
        return Path(configured) / "polaris"
    return Path(__file__).resolve().parents[2].parent / "shared" / "oracle" / "polaris"


ORACLE = _oracle_dir()
CASES_FILE = ORACLE / "cases.jsonl"
pytestmark = pytest.mark.skipif(
    not CASES_FILE.is_file(),
    reason=f"Polaris oracle not found at {CASES_FILE} (set RAMPART_ORACLE_DIR to its folder)",
)


@dataclass(frozen=True)
class Comparison:
    case: dict[str, Any]
    check_id: str
    got: str  # pass | fail | not implemented | <status> when the check could not judge
    summary: str = ""

    @property
    def implemented(self) -> bool:
        return self.got != "not implemented"

    @property
    def agrees(self) -> bool:
        return self.got == self.case["expected"]

    def describe(self) -> str:
        c = self.case
        return (
            f"{c['source_path']} ({c['concept']} -> {self.check_id}): polaris {c['expected']}, "
            f"rampart {self.got} — {self.summary}"
        )


def _objects(case: dict[str, Any]) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for relative in case["manifest_files"]:
        with (ORACLE / relative).open() as handle:
            for document in yaml.safe_load_all(handle):
                if not isinstance(document, dict):
                    continue
                items = document.get("items") if document.get("kind", "").endswith("List") else None
                objects += items if items is not None else [document]
    return objects


def inventory_for(case: dict[str, Any], needs: tuple[str, ...]) -> Inventory:
    """Every needed kind listed (empty unless the manifest has some), as a collection would."""
    inventory = Inventory(version={"gitVersion": "v1.33.2"})
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for obj in _objects(case):
        resource = BY_KIND.get(obj.get("kind", ""))
        if resource is None:
            continue  # a kind Rampart does not collect (PodDisruptionBudget, ConfigMap, ...)
        metadata = obj.setdefault("metadata", {})
        if resource.namespaced:
            # kubectl apply puts an object without a namespace into `default`.
            metadata.setdefault("namespace", "default")
        grouped[resource.key].append(obj)
    for key in needs:
        inventory.set_objects(key, grouped.get(key, []))
    for key, items in grouped.items():
        inventory.set_objects(key, items)
    return inventory


def _compare(case: dict[str, Any]) -> Comparison:
    check_id = CONCEPT_CHECKS[case["concept"]]
    check = REGISTRY.get(check_id)
    if check is None:
        return Comparison(case, check_id, "not implemented")
    result = run_check(check, inventory_for(case, check.inputs), CheckContext())
    verdict = {Status.FAIL: "fail", Status.PASS: "pass", Status.NOT_APPLICABLE: "pass"}
    got = verdict.get(result.status, str(result.status))
    fragment = CONCEPT_DETAIL.get(case["concept"])
    if got == "fail" and fragment:
        details = [item.detail for item in result.outcome.affected]
        got = "fail" if any(fragment in detail for detail in details) else "pass"
    return Comparison(case, check_id, got, result.outcome.summary)


@cache
def _cases() -> tuple[dict[str, Any], ...]:
    with CASES_FILE.open() as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


@cache
def _comparisons() -> tuple[Comparison, ...]:
    return tuple(_compare(case) for case in _cases() if case["concept"] in CONCEPT_CHECKS)


def test_it_knows_every_concept_in_the_oracle() -> None:
    unknown = {c["concept"] for c in _cases()} - set(CONCEPT_CHECKS) - NOT_RAMPART_CONCEPTS
    assert not unknown, f"map these Polaris concepts to a Rampart check or list them: {unknown}"


def test_it_agrees_with_polaris_or_documents_why() -> None:
    comparisons = _comparisons()
    totals: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for comparison in comparisons:
        concept = comparison.case["concept"]
        totals[concept] += 1
        agreed[concept] += comparison.implemented and comparison.agrees
        missing[concept] += not comparison.implemented
    rows = [f"{'concept':30} {'rampart check':34} agree / cases"]
    for concept in sorted(totals):
        note = f"  ({missing[concept]} not implemented)" if missing[concept] else ""
        check_id = CONCEPT_CHECKS[concept]
        rows.append(f"{concept:30} {check_id:34} {agreed[concept]:3} / {totals[concept]}{note}")
    print("\nPolaris agreement per concept\n" + "\n".join(rows))

    undocumented = [
        c.describe()
        for c in comparisons
        if c.implemented and not c.agrees and c.case["source_path"] not in DOCUMENTED_DIFFERENCES
    ]
    assert not undocumented, "undocumented disagreements:\n" + "\n".join(undocumented)


def test_it_documents_only_real_disagreements() -> None:
    # A documented difference that now agrees (or is no longer in the oracle) is stale.
    disagreeing = {c.case["source_path"] for c in _comparisons() if c.implemented and not c.agrees}
    not_implemented = {c.case["source_path"] for c in _comparisons() if not c.implemented}
    stale = set(DOCUMENTED_DIFFERENCES) - disagreeing - not_implemented
    assert not stale, f"remove these from DOCUMENTED_DIFFERENCES: {sorted(stale)}"
