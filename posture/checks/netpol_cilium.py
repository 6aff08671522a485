"""CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy semantics for isolation.

Cilium's rule ("Policy Enforcement Modes", docs.cilium.io security/policy/intro, and
pkg/policy/repository.go computePolicyEnforcementAndRules): an endpoint selected by a rule with
a non-empty `ingress` or `ingressDeny` list goes into default deny for ingress, likewise egress,
unless the rule sets `enableDefaultDeny.<direction>: false` (Cilium 1.15+), which opts that rule
out; one opting-in rule is enough. An empty list (`ingress: []`) is no section at all, and an
empty rule (`ingress: [{}]`) allows nothing: it is the documented default deny ("Ingress/Egress
Default Deny", security/policy/language), not an allow-all. Allow-all is `fromEntities: [all]`
(what Cilium itself synthesises as its wildcard rule), or `world` plus `cluster`, with no port
or ICMP restriction; allow rules of every policy add up, Kubernetes NetworkPolicies included, so
one allow-all reopens the direction. A deny rule wins over every allow ("Deny Policies").

A policy is `spec` and/or a `specs` list of rules. A namespaced policy selects endpoints in its
own namespace only; a clusterwide one selects across namespaces, whose name is the endpoint label
`k8s:io.kubernetes.pod.namespace`. Selector keys may carry a source prefix (`k8s:`, `any:`;
none means any); pods carry only `k8s:` labels. Host policies (`nodeSelector`) select nodes,
never pods, and are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.inventory import JSON, Inventory
from posture.checks.netpol_model import (
    DIRECTIONS,
    NO_VERDICT,
    UNKNOWN,
    Direction,
    Effect,
    Endpoint,
    Resolve,
    Tri,
    Value,
    Verdict,
    describe,
    label_selector_holds,
)

NAMESPACED_KEY = "ciliumnetworkpolicies.cilium.io"
CLUSTERWIDE_KEY = "ciliumclusterwidenetworkpolicies.cilium.io"
KEYS = (NAMESPACED_KEY, CLUSTERWIDE_KEY)
_KINDS = {NAMESPACED_KEY: "CiliumNetworkPolicy", CLUSTERWIDE_KEY: "CiliumClusterwideNetworkPolicy"}
# rule section, deny section, the peers field that names entities, per direction
_SECTIONS: dict[Direction, tuple[str, str, str]] = {
    "Ingress": ("ingress", "ingressDeny", "fromEntities"),
    "Egress": ("egress", "egressDeny", "toEntities"),
}
_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
_NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
_SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
_CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
_POD_SOURCES = ("k8s", "any")


@dataclass(frozen=True)
class Rule:
    """One rule (a `spec` or an entry of `specs`) of a Cilium policy, read for isolation."""

    policy: str  # "CiliumNetworkPolicy shop/default-deny"
    namespace: str | None  # None: clusterwide
    endpoint_selector: JSON
    default_deny: frozenset[Direction]  # directions it puts selected endpoints in default deny
    opted_out: frozenset[Direction]  # directions it has rules for but `enableDefaultDeny: false`
    allows_all: frozenset[Direction]
    denies_all: frozenset[Direction]

    def selects(self, endpoint: Endpoint) -> Tri:
        if self.namespace is not None and self.namespace != endpoint.namespace:
            return False
        return label_selector_holds(self.endpoint_selector, _resolver(endpoint))


def rules(inventory: Inventory) -> list[Rule]:
    """Every pod-selecting rule of the Cilium policies collected (none for a kind not listed)."""
    return inventory.derived("netpol.cilium.rules", _read_rules)


def _read_rules(inventory: Inventory) -> list[Rule]:
    found: list[Rule] = []
    for key in KEYS:
        if not inventory.has(key):
            continue
        for policy in inventory.items(key):
            specs = [policy.get("spec"), *(policy.get("specs") or [])]
            for spec in specs:
                rule = _rule(policy, spec, key)
                if rule is not None:
                    found.append(rule)
    return found


def _rule(policy: JSON, spec: object, key: str) -> Rule | None:
    if not isinstance(spec, dict) or spec.get("nodeSelector") is not None:
        return None  # missing, or a host policy: it selects nodes, not pods
    selector = spec.get("endpointSelector")
    if not isinstance(selector, dict):
        return None  # Cilium rejects a rule that selects nothing
    default_deny, opted_out, allows_all, denies_all = set(), set(), set(), set()
    switches = spec.get("enableDefaultDeny") or {}
    for direction in DIRECTIONS:
        section, deny_section, entities = _SECTIONS[direction]
        allows = [r for r in spec.get(section) or [] if isinstance(r, dict)]
        denies = [r for r in spec.get(deny_section) or [] if isinstance(r, dict)]
        if not allows and not denies:
            continue  # no section: this rule leaves the direction alone
        if switches.get(direction.lower()) is False:
            opted_out.add(direction)
        else:
            default_deny.add(direction)
        if any(_matches_everything(r, entities) for r in allows):
            allows_all.add(direction)
        if any(_matches_everything(r, entities) for r in denies):
            denies_all.add(direction)
    namespace: str | None = None  # a clusterwide policy selects in every namespace
    if key == NAMESPACED_KEY:
        namespace = (policy.get("metadata") or {}).get("namespace") or ""
    return Rule(
        policy=describe(_KINDS[key], policy),
        namespace=namespace,
        endpoint_selector=selector,
        default_deny=frozenset(default_deny),
        opted_out=frozenset(opted_out),
        allows_all=frozenset(allows_all),
        denies_all=frozenset(denies_all),
    )


def _matches_everything(rule: JSON, entities_field: str) -> bool:
    """Every peer on every port: the `all` entity (or world and cluster), nothing narrowing it."""
    entities = set(rule.get(entities_field) or [])
    worlds = "world" in entities or {"world-ipv4", "world-ipv6"} <= entities
    if "all" not in entities and not ("cluster" in entities and worlds):
        return False
    return not (rule.get("toPorts") or rule.get("icmps") or rule.get("authentication"))


def verdict(found: list[Rule], endpoint: Endpoint, direction: Direction) -> Verdict:
    """What Cilium does to one direction of these pods."""
    selecting = [rule for rule in found if rule.selects(endpoint) is True]
    for rule in selecting:
        if direction in rule.denies_all:
            return Verdict(Effect.DENIED, rule.policy)
    isolating = next(
        (
            r.policy
            for r in selecting
            if direction in r.default_deny and direction not in r.allows_all
        ),
        "",
    )
    for rule in selecting:
        if direction in rule.allows_all:
            return Verdict(Effect.OPEN, rule.policy, voids=isolating)
    if isolating:
        return Verdict(Effect.ISOLATED, isolating)
    notes = tuple(
        f"{rule.policy} sets enableDefaultDeny.{direction.lower()}: false"
        for rule in selecting
        if direction in rule.opted_out
    )
    return Verdict(Effect.NONE, notes=notes) if notes else NO_VERDICT


def isolating_rule(found: list[Rule], endpoint: Endpoint) -> tuple[Tri, str]:
    """(whether a rule puts these pods in default deny for some direction, which rule)."""
    unsure = False
    for rule in found:
        if not rule.default_deny:
            continue
        selected = rule.selects(endpoint)
        if selected is True:
            return True, rule.policy
        unsure = unsure or selected is None
    return (None if unsure else False), ""


def _resolver(endpoint: Endpoint) -> Resolve:
    def resolve(key: str) -> Value:
        source, colon, name = key.partition(":")
        if not colon:
            source, name = "any", key
        if source not in _POD_SOURCES:
            return None  # reserved:, cidr:, container: labels: pods carry none of them
        if name == _NAMESPACE_LABEL:
            return endpoint.namespace
        if name.startswith(_NAMESPACE_LABELS_PREFIX):
            return endpoint.namespace_label(name.removeprefix(_NAMESPACE_LABELS_PREFIX))
        if name == _SERVICE_ACCOUNT_LABEL:
            return endpoint.service_account if endpoint.service_account is not None else UNKNOWN
        if name == _CLUSTER_LABEL:
            return UNKNOWN  # the Cilium cluster name is not collected
        return endpoint.pod_label(name)

    return resolve
