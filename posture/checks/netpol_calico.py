"""Calico NetworkPolicy and GlobalNetworkPolicy semantics for isolation.

Where they are read: the crd.projectcalico.org/v1 CRDs are where a Kubernetes-datastore Calico
stores its policies (operator and manifest installs alike), in one list across every tier,
under plain Kubernetes RBAC. The projectcalico.org/v3 API is read only when those CRDs are not
served, which is Calico's native-v3-CRD mode (3.31+); beside them it is Calico's aggregated API
server showing the same objects, whose unfiltered list returns the default tier only (Calico
docs, "Configure RBAC for tiered policies"), so it is never merged with the CRDs.

How they isolate (docs.tigera.io: "Enable default deny for Kubernetes pods", "Get started with
policy tiers", reference/resources/networkpolicy): a policy applies to an endpoint its
`selector` (default `all()`) selects, in its own namespace for a NetworkPolicy; a
GlobalNetworkPolicy's `namespaceSelector` picks namespaces by their labels and
`projectcalico.org/name`. `types` default to Ingress, Egress when only egress rules exist, both
when both do. Applying policies run lowest `order` first (no order: last); each rule in turn:
Allow and Deny are final, Pass leaves the tier, Log goes on. Traffic no rule decided is denied
at the end of a tier once any of its policies applies, so an applying policy isolates the
direction unless an Allow (or Pass) with no match criteria comes first; a Deny with none before
it keeps everything denied. Calico enforces Kubernetes NetworkPolicies as default-tier policies
of order 1000 (libcalico-go K8sNetworkPolicyToCalico), so they are judged in the same walk.

Tiers: Rampart does not collect Tier resources, so it knows neither a tier's order nor its
defaultAction (a tier may Pass instead of deny). Conservatively, policies in a non-default tier
never count as isolating, and one of them reaching an Allow of everything is taken to come first
and reopen the direction. A namespace only a tiered policy protects is reported, with a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from clusters.inventory import JSON, Inventory, KindStatus
from posture.checks import calico_selector, netpol
from posture.checks.calico_selector import Selector, SelectorError
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

STORAGE_NAMESPACED = "networkpolicies.crd.projectcalico.org"
STORAGE_GLOBAL = "globalnetworkpolicies.crd.projectcalico.org"
API_NAMESPACED = "networkpolicies.projectcalico.org"
API_GLOBAL = "globalnetworkpolicies.projectcalico.org"
KEYS = (STORAGE_NAMESPACED, STORAGE_GLOBAL, API_NAMESPACED, API_GLOBAL)
# (storage key, API key, kind) per kind of Calico policy.
_SOURCES = (
    (STORAGE_NAMESPACED, API_NAMESPACED, "Calico NetworkPolicy"),
    (STORAGE_GLOBAL, API_GLOBAL, "Calico GlobalNetworkPolicy"),
)
DEFAULT_TIER = "default"
KUBERNETES_ORDER = 1000.0  # where Calico puts every Kubernetes NetworkPolicy
_NAME_LABEL = "projectcalico.org/name"
_NAMESPACE_PREFIX = "pcns."  # an endpoint's copy of its namespace's labels
_SERVICE_ACCOUNT_PREFIX = "pcsa."  # ... and of its service account's (not collected)
_DECISIONS = ("Allow", "Deny", "Pass")
_EMPTY: tuple[object, ...] = (None, "", [], {})


@dataclass(frozen=True)
class Sources:
    keys: tuple[str, ...]  # what to read
    problems: tuple[str, ...]  # why some Calico policies could not be read


def sources(inventory: Inventory) -> Sources:
    """Which collected resources hold the cluster's Calico policies (see the module docstring)."""
    keys: list[str] = []
    problems: list[str] = []
    for storage, api, kind in _SOURCES:
        chosen = storage
        if _status(inventory, storage) == KindStatus.NOT_SERVED:
            chosen = api
        status = _status(inventory, chosen)
        if status == KindStatus.OK:
            keys.append(chosen)
        elif status != KindStatus.NOT_SERVED:
            reason = inventory.kind_errors.get(chosen) or str(status)
            problems.append(f"{kind} ({chosen}) {status}: {reason}")
    return Sources(tuple(keys), tuple(problems))


def _status(inventory: Inventory, key: str) -> KindStatus:
    return inventory.kind_status.get(key, KindStatus.NOT_COLLECTED)


@dataclass(frozen=True)
class Rule:
    action: str  # Allow | Deny | Pass | Log
    everything: bool  # no match criteria: it decides all traffic that reaches it


@dataclass(frozen=True)
class Policy:
    """A Calico policy, or a Kubernetes NetworkPolicy as Calico enforces it, read for isolation."""

    description: str
    namespace: str | None  # None: global
    tier: str
    order: float | None
    types: frozenset[Direction]
    rules: Mapping[Direction, tuple[Rule, ...]]
    selector: Selector | None = None
    namespace_selector: Selector | None = None
    service_account_selector: Selector | None = None
    pod_selector: JSON | None = None  # set for a Kubernetes NetworkPolicy
    problem: str = ""  # why it cannot be judged (a selector that does not parse)

    def selects(self, endpoint: Endpoint) -> Tri:
        if self.namespace is not None and self.namespace != endpoint.namespace:
            return False
        if self.problem:
            return None
        if self.pod_selector is not None:
            return label_selector_holds(self.pod_selector, endpoint.pod_label)
        conditions = [
            (self.selector, _endpoint_resolver(endpoint)),
            (self.namespace_selector, _namespace_resolver(endpoint)),
            (self.service_account_selector, _service_account_resolver(endpoint)),
        ]
        result: Tri = True
        for selector, resolve in conditions:
            if selector is not None:
                held = selector.holds(resolve)
                if held is False:
                    return False
                if held is None:
                    result = None
        return result


@dataclass
class Index:
    present: bool = False  # Calico policies were read, so Calico enforces policy here
    by_namespace: dict[str, list[Policy]] = field(default_factory=dict)
    global_policies: list[Policy] = field(default_factory=list)

    def candidates(self, namespace: str) -> list[Policy]:
        return [*self.by_namespace.get(namespace, []), *self.global_policies]


def index(inventory: Inventory) -> Index:
    """The Calico policies collected, with the Kubernetes NetworkPolicies Calico enforces."""
    return inventory.derived("netpol.calico.index", _build_index)


def _build_index(inventory: Inventory) -> Index:
    keys = sources(inventory).keys
    built = Index(present=bool(keys))
    for key in keys:
        is_global = key in (STORAGE_GLOBAL, API_GLOBAL)
        kind = "Calico GlobalNetworkPolicy" if is_global else "Calico NetworkPolicy"
        for obj in inventory.items(key):
            policy = _calico_policy(obj, kind, is_global=is_global)
            if policy is not None:
                _add(built, policy)
    if built.present and inventory.has("networkpolicies"):
        for obj in inventory.items("networkpolicies"):
            _add(built, _kubernetes_policy(obj))
    return built


def _add(built: Index, policy: Policy) -> None:
    if policy.namespace is None:
        built.global_policies.append(policy)
    else:
        built.by_namespace.setdefault(policy.namespace, []).append(policy)


def _calico_policy(obj: JSON, kind: str, *, is_global: bool) -> Policy | None:
    spec = obj.get("spec") or {}
    if is_global and (spec.get("doNotTrack") or spec.get("preDNAT")):
        return None  # applies to host endpoints only
    description = describe(kind, obj)
    rules = {
        direction: tuple(_rule(r) for r in spec.get(direction.lower()) or [] if isinstance(r, dict))
        for direction in DIRECTIONS
    }
    order = spec.get("order")
    policy = Policy(
        description=description,
        namespace=None if is_global else (obj.get("metadata") or {}).get("namespace") or "",
        tier=str(spec.get("tier") or DEFAULT_TIER),
        order=float(order) if isinstance(order, int | float) else None,
        types=_types(spec.get("types"), rules),
        rules=rules,
    )
    try:
        return replace(
            policy,
            selector=calico_selector.parse(spec.get("selector")),
            # A NetworkPolicy's namespace is its own; only a global policy picks namespaces.
            namespace_selector=_optional(spec.get("namespaceSelector")) if is_global else None,
            service_account_selector=_optional(spec.get("serviceAccountSelector")),
        )
    except SelectorError as exc:
        return replace(policy, problem=f"{description} has a selector Rampart cannot read: {exc}")


def _optional(text: object) -> Selector | None:
    return calico_selector.parse(text) if isinstance(text, str) and text.strip() else None


def _kubernetes_policy(obj: JSON) -> Policy:
    spec = obj.get("spec") or {}
    rules: dict[Direction, tuple[Rule, ...]] = {}
    for direction in DIRECTIONS:
        rules_key, peers_key = netpol.RULES_AND_PEERS[direction]
        rules[direction] = tuple(
            Rule("Allow", netpol.rule_allows_everything(r, peers_key))
            for r in spec.get(rules_key) or []
            if isinstance(r, dict)
        )
    types = frozenset(t for t in DIRECTIONS if t in netpol.policy_types(obj))
    return Policy(
        description=describe("NetworkPolicy", obj),
        namespace=(obj.get("metadata") or {}).get("namespace") or "",
        tier=DEFAULT_TIER,
        order=KUBERNETES_ORDER,
        types=types,
        rules=rules,
        pod_selector=spec.get("podSelector") or {},
    )


def _types(declared: object, rules: Mapping[Direction, tuple[Rule, ...]]) -> frozenset[Direction]:
    if isinstance(declared, list) and declared:
        return frozenset(d for d in DIRECTIONS if d in declared)
    # Calico's defaults: Egress alone when only egress rules exist, both when both do, else
    # Ingress (a policy with no rules at all isolates ingress).
    if rules["Egress"]:
        return frozenset({"Ingress", "Egress"}) if rules["Ingress"] else frozenset({"Egress"})
    return frozenset({"Ingress"})


def _rule(rule: JSON) -> Rule:
    action = str(rule.get("action") or "")
    return Rule(action, _matches_everything(rule, action))


def _matches_everything(rule: JSON, action: str) -> bool:
    for criterion in ("protocol", "notProtocol", "icmp", "notICMP", "http"):
        if rule.get(criterion) not in _EMPTY:
            return False
    for side in ("source", "destination"):
        entity = rule.get(side)
        if isinstance(entity, dict):
            if any(value not in _EMPTY for value in entity.values()):
                return False
        elif entity not in _EMPTY:
            return False
    # An Allow of one IP family lets in practically everything on a single-stack cluster; a
    # Deny or Pass of one family leaves the other, so only the Allow counts as everything.
    return rule.get("ipVersion") in _EMPTY or action == "Allow"


def _order(policy: Policy) -> tuple[bool, float, str]:
    return (policy.order is None, policy.order or 0.0, policy.description)


def _first_decision(policies: Iterable[Policy], direction: Direction) -> tuple[str, Policy] | None:
    """The first rule deciding everything (Allow, Deny, Pass), in policy and rule order."""
    for policy in sorted(policies, key=_order):
        for rule in policy.rules.get(direction, ()):
            if rule.everything and rule.action in _DECISIONS:
                return rule.action, policy
    return None


def verdict(built: Index, endpoint: Endpoint, direction: Direction) -> Verdict:
    """What Calico (Kubernetes NetworkPolicies included) does to one direction of these pods."""
    tiers: dict[str, list[Policy]] = {}
    unreadable: list[Policy] = []
    for policy in built.candidates(endpoint.namespace):
        if direction not in policy.types:
            continue
        selected = policy.selects(endpoint)
        if selected is True:
            tiers.setdefault(policy.tier, []).append(policy)
        elif selected is None and policy.problem:
            unreadable.append(policy)
    default = tiers.pop(DEFAULT_TIER, [])
    for tier, policies in sorted(tiers.items()):
        decision = _first_decision(policies, direction)
        if decision is not None and decision[0] == "Allow":
            note = f"tier {tier} is taken to come first (Tier order is not collected)"
            return Verdict(Effect.OPEN, decision[1].description, (note,))
    notes = tuple(
        f"Calico policies in tier {tier} are not counted: Tier order and defaultAction are not "
        "collected"
        for tier in sorted(tiers)
    )
    if unreadable:
        return Verdict(Effect.UNKNOWN, unreadable[0].description, (unreadable[0].problem, *notes))
    if not default:
        return Verdict(Effect.NONE, notes=notes) if notes else NO_VERDICT
    decision = _first_decision(default, direction)
    if decision is None:  # nothing decided everything: the end of the tier denies the rest
        return Verdict(Effect.ISOLATED, min(default, key=_order).description, notes)
    action, policy = decision
    if action == "Deny":
        return Verdict(Effect.ISOLATED, policy.description, notes)
    if action == "Pass":
        passed = "its Pass sends all traffic past the default tier, to profiles that allow it"
        return Verdict(Effect.OPEN, policy.description, (passed, *notes))
    return Verdict(Effect.OPEN, policy.description, notes)


def isolating_policy(built: Index, endpoint: Endpoint) -> tuple[Tri, str]:
    """(whether a Calico policy of the default tier applies to these pods, which one).

    Kubernetes NetworkPolicies are left to posture/checks/netpol.py; tiered policies do not
    count (their tier's defaultAction is not collected).
    """
    unsure = False
    for policy in built.candidates(endpoint.namespace):
        if policy.pod_selector is not None or policy.tier != DEFAULT_TIER or not policy.types:
            continue
        selected = policy.selects(endpoint)
        if selected is True:
            return True, policy.description
        unsure = unsure or selected is None
    return (None if unsure else False), ""


def _endpoint_resolver(endpoint: Endpoint) -> Resolve:
    def resolve(key: str) -> Value:
        if key == "projectcalico.org/namespace":
            return endpoint.namespace
        if key == "projectcalico.org/orchestrator":
            return "k8s"
        if key == "projectcalico.org/serviceaccount":
            return endpoint.service_account if endpoint.service_account is not None else UNKNOWN
        if key.startswith(_NAMESPACE_PREFIX):
            return _namespace_label(endpoint, key.removeprefix(_NAMESPACE_PREFIX))
        if key.startswith(_SERVICE_ACCOUNT_PREFIX):
            return UNKNOWN
        return endpoint.pod_label(key)

    return resolve


def _namespace_resolver(endpoint: Endpoint) -> Resolve:
    return lambda key: _namespace_label(endpoint, key)


def _namespace_label(endpoint: Endpoint, key: str) -> Value:
    return endpoint.namespace if key == _NAME_LABEL else endpoint.namespace_label(key)


def _service_account_resolver(endpoint: Endpoint) -> Resolve:
    def resolve(key: str) -> Value:
        if key == _NAME_LABEL and endpoint.service_account is not None:
            return endpoint.service_account
        return UNKNOWN  # service accounts' own labels are not joined to pods

    return resolve
