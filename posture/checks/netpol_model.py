"""What the policy engines' semantics share: a pod as an endpoint, three-valued matching, and the
per-direction verdict each engine gives and posture/checks/netpol_engines.py combines.

An endpoint is either one workload's pods (labels known) or "any pod of a namespace" (pod labels
unknown). The second is how a namespace-wide default deny is judged: a policy counts for a
namespace only when it selects its pods whatever their labels are. Matching is three-valued:
True, False, or None when the answer depends on what is unknown, combined in Kleene logic, so a
selector comes out True only when it holds for every value the unknown labels could take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Literal

JSON = dict[str, Any]
Tri = bool | None
Direction = Literal["Ingress", "Egress"]
DIRECTIONS: tuple[Direction, Direction] = ("Ingress", "Egress")


class _Unknown(Enum):
    UNKNOWN = "unknown"


UNKNOWN = _Unknown.UNKNOWN
# A label's value as an engine sees it: the value, None when the label is absent, UNKNOWN when
# we cannot tell (any pod of a namespace, or data that was not collected).
Value = str | None | Literal[_Unknown.UNKNOWN]
Resolve = Callable[[str], Value]


def tri_all(values: Iterable[Tri]) -> Tri:
    """Kleene AND: False if any is False, else None if any is None, else True."""
    result: Tri = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def tri_any(values: Iterable[Tri]) -> Tri:
    """Kleene OR: True if any is True, else None if any is None, else False."""
    result: Tri = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def tri_not(value: Tri) -> Tri:
    return None if value is None else not value


@dataclass(frozen=True)
class Endpoint:
    """Pods as policy engines match them."""

    namespace: str
    # None: the namespaces were not collected, so their labels are unknown.
    namespace_labels: Mapping[str, str] | None
    # None: any pod of the namespace, whatever its labels.
    pod_labels: Mapping[str, str] | None = None
    # None: unknown (any pod of the namespace may run as any account).
    service_account: str | None = None

    def namespace_label(self, key: str) -> Value:
        if key == "kubernetes.io/metadata.name":
            return self.namespace  # set by the API server on every namespace (1.21+)
        if self.namespace_labels is None:
            return UNKNOWN
        return self.namespace_labels.get(key)

    def pod_label(self, key: str) -> Value:
        if self.pod_labels is None:
            return UNKNOWN
        return self.pod_labels.get(key)


def label_selector_holds(selector: JSON, resolve: Resolve) -> Tri:
    """A metav1.LabelSelector (matchLabels, matchExpressions); `{}` holds for everything."""
    conditions: list[Tri] = [
        _is(resolve(str(key)), str(value))
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    conditions += [_expression(e, resolve) for e in selector.get("matchExpressions") or []]
    return tri_all(conditions)


def _is(value: Value, expected: str) -> Tri:
    return None if value is UNKNOWN else value == expected


def _expression(expression: JSON, resolve: Resolve) -> Tri:
    value = resolve(str(expression.get("key", "")))
    values = [str(v) for v in expression.get("values") or []]
    operator = expression.get("operator")
    if value is UNKNOWN:
        return None
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    return None  # the API server rejects other operators; never let one widen a selection


class Effect(StrEnum):
    """What one engine's policies do to one direction of an endpoint."""

    NONE = "none"  # no policy of this engine isolates it
    ISOLATED = "isolated"  # default deny: only what rules allow gets through
    OPEN = "open"  # a rule allows everything: no default deny holds, whichever engine set it
    DENIED = "denied"  # a rule denies everything, whatever any engine allows (Cilium deny)
    UNKNOWN = "unknown"  # a policy that may apply could not be judged


@dataclass(frozen=True)
class Verdict:
    effect: Effect
    by: str = ""  # the policy that decided, e.g. "CiliumNetworkPolicy shop/default-deny"
    notes: tuple[str, ...] = ()  # what a person should know, e.g. an opt-out of default deny
    voids: str = ""  # OPEN: the policy whose default deny it undoes, if any


NO_VERDICT = Verdict(Effect.NONE)


def describe(kind: str, obj: JSON) -> str:
    """`Kind namespace/name`, or `Kind name` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
