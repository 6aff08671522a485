"""NetworkPolicy semantics the network checks need: isolation, selection, enforcing CNIs.

A pod is isolated for ingress (or egress) as soon as any policy of that type selects it; what
it may then receive is the union of those policies' rules. So "default deny" means a policy
selecting every pod of the namespace (`podSelector: {}`) whose rules do not reopen everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.inventory import JSON, Inventory
from posture.checks.netpol_model import (
    NO_VERDICT,
    Direction,
    Effect,
    Endpoint,
    Verdict,
    describe,
    label_selector_holds,
)
from posture.checks.selectors import selector_is_empty, selector_matches

# Namespaces kube-bench's GKE audit (CIS GKE 4.3.2) skips: the provider runs them and ships no
# policies for them.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

# DaemonSets of CNIs (or policy engines beside one) that enforce NetworkPolicy, by name.
# anetd is GKE Dataplane V2 (Cilium); canal is Calico policy over flannel; kube-router and
# weave-net enforce policy themselves. A cluster could rename them: this is a heuristic.
POLICY_CAPABLE_DAEMONSETS = (
    "calico-node",
    "cilium",
    "anetd",
    "antrea-agent",
    "weave-net",
    "kube-router",
    "canal",
)


def policy_types(policy: JSON) -> set[str]:
    """Effective spec.policyTypes: when unset, Ingress, plus Egress if egress rules exist."""
    spec = policy.get("spec") or {}
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def rule_allows_everything(rule: JSON, peers_key: str) -> bool:
    """An empty rule (no peers, no ports) allows all traffic, undoing the isolation."""
    return not rule.get(peers_key) and not rule.get("ports")


def _reopens_everything(rules: list[JSON], peers_key: str) -> bool:
    return any(rule_allows_everything(rule, peers_key) for rule in rules)


RULES_AND_PEERS: dict[Direction, tuple[str, str]] = {
    "Ingress": ("ingress", "from"),
    "Egress": ("egress", "to"),
}


def verdict(policies: list[JSON], endpoint: Endpoint, direction: Direction) -> Verdict:
    """What these NetworkPolicies (of the endpoint's namespace) do to one direction of its pods.

    Selected by a policy of that type, a pod is isolated; what it may then receive is the union
    of the selecting policies' rules, so one rule allowing everything reopens the direction.
    """
    rules_key, peers_key = RULES_AND_PEERS[direction]
    isolated_by = opened_by = ""
    for policy in policies:
        spec = policy.get("spec") or {}
        if direction not in policy_types(policy):
            continue
        # podSelector is required; a policy stored without it selects all pods, like `{}`.
        if label_selector_holds(spec.get("podSelector") or {}, endpoint.pod_label) is not True:
            continue
        if _reopens_everything(spec.get(rules_key) or [], peers_key):
            opened_by = opened_by or describe("NetworkPolicy", policy)
        else:
            isolated_by = isolated_by or describe("NetworkPolicy", policy)
    if opened_by:
        return Verdict(Effect.OPEN, opened_by, voids=isolated_by)
    return Verdict(Effect.ISOLATED, isolated_by) if isolated_by else NO_VERDICT


@dataclass(frozen=True)
class DefaultDeny:
    ingress: bool
    egress: bool


def default_deny(policies: list[JSON]) -> DefaultDeny:
    """Whether these policies (of one namespace) isolate every pod for ingress and egress."""
    ingress = egress = False
    for policy in policies:
        spec = policy.get("spec") or {}
        if not selector_is_empty(spec.get("podSelector")):
            continue
        types = policy_types(policy)
        if "Ingress" in types and not _reopens_everything(spec.get("ingress") or [], "from"):
            ingress = True
        if "Egress" in types and not _reopens_everything(spec.get("egress") or [], "to"):
            egress = True
    return DefaultDeny(ingress, egress)


def policies_by_namespace(inventory: Inventory) -> dict[str, list[JSON]]:
    result: dict[str, list[JSON]] = {}
    for policy in inventory.items("networkpolicies"):
        namespace = (policy.get("metadata") or {}).get("namespace", "")
        result.setdefault(namespace, []).append(policy)
    return result


def selecting_policies(policies: list[JSON], labels: dict[str, str]) -> list[str]:
    """Names of the policies whose podSelector selects pods with these labels."""
    return [
        (policy.get("metadata") or {}).get("name", "")
        for policy in policies
        # podSelector is required; a policy stored without it selects all pods, like `{}`.
        if selector_matches((policy.get("spec") or {}).get("podSelector") or {}, labels)
    ]


def policy_capable_cni(inventory: Inventory) -> list[str]:
    """`namespace/name` of DaemonSets of NetworkPolicy-enforcing CNIs; empty when none seen."""
    return [
        f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        for meta in ((ds.get("metadata") or {}) for ds in inventory.items("daemonsets"))
        if meta.get("name") in POLICY_CAPABLE_DAEMONSETS
    ]


def provider_enforces_policy(provider: JSON | None) -> str | None:
    """What in the GKE Cluster resource says NetworkPolicy is enforced (hardening.md F3)."""
    if not provider:
        return None
    network_config = provider.get("networkConfig") or {}
    if network_config.get("datapathProvider") == "ADVANCED_DATAPATH":
        return "GKE Dataplane V2 (networkConfig.datapathProvider=ADVANCED_DATAPATH)"
    addon = (provider.get("addonsConfig") or {}).get("networkPolicyConfig") or {}
    if (provider.get("networkPolicy") or {}).get("enabled") and not addon.get("disabled"):
        return "GKE network policy enforcement (networkPolicy.enabled)"
    return None
