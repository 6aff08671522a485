"""Label selectors, matched the way the API server matches them.

Two shapes exist: `metav1.LabelSelector` (NetworkPolicy podSelector, ClusterRole aggregation)
with matchLabels and matchExpressions, where `{}` selects everything; and a Service's plain
`spec.selector` map, where an empty map selects nothing (its endpoints are managed by hand).
Getting the empty cases backwards turns "no policy applies" into "every pod is covered".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]


def selector_is_empty(selector: JSON | None) -> bool:
    """True for `{}` (and a missing selector where the API defaults to `{}`)."""
    if not selector:
        return True
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def selector_matches(selector: JSON | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: every matchLabels pair and every expression must hold."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_holds(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_holds(expression: JSON, labels: Mapping[str, str]) -> bool:
    key = expression.get("key", "")
    operator = expression.get("operator", "")
    values = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    # The API server rejects other operators; an unreadable one must not widen a selection.
    return False


def service_selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """A Service's `spec.selector`: all pairs must match; empty selects no pods at all."""
    if not selector:
        return False
    return all(labels.get(key) == value for key, value in selector.items())
