"""Reading a pod spec the way pod-security-admission does, over plain API JSON.

Upstream works on typed Go structs, where an absent pointer is nil and an absent string is "".
The helpers here give the same answers for dicts that may lack a key or carry an explicit null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

# Upstream's visitor walks all three lists: an ephemeral debug container is as dangerous as any.
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    """One failed Pod Security control, named by its upstream check id."""

    control: str
    reason: str  # upstream's short ForbiddenReason, e.g. "privileged"
    detail: str  # upstream-style ForbiddenDetail naming the containers and values

    def __str__(self) -> str:
        return f"{self.control}: {self.detail}"


def obj(value: Any) -> JSON:
    """A nested object, or {} when absent or null."""
    return value if isinstance(value, dict) else {}


def containers(spec: JSON) -> Iterator[JSON]:
    for list_name in CONTAINER_LISTS:
        for container in spec.get(list_name) or []:
            if isinstance(container, dict):
                yield container


def name_of(container: JSON) -> str:
    return str(container.get("name") or "")


def security_context(container_or_spec: JSON) -> JSON:
    return obj(container_or_spec.get("securityContext"))


def is_windows(spec: JSON) -> bool:
    return obj(spec.get("os")).get("name") == "windows"


def uses_user_namespace(spec: JSON) -> bool:
    """`hostUsers: false` (a user namespace): root in the pod is not root on the node."""
    return spec.get("hostUsers") is False


def quote(values: Iterable[str]) -> str:
    """Go's joinQuote: `"a", "b"`."""
    return ", ".join(f'"{value}"' for value in values)


def plural(singular: str, many: str, count: int) -> str:
    return singular if count == 1 else many


def containers_phrase(names: list[str]) -> str:
    return f"{plural('container', 'containers', len(names))} {quote(names)}"


def sorted_unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


Finding = tuple[str, str]  # (reason, detail)
PodTest = Callable[[JSON, JSON, int], Finding | None]


@dataclass(frozen=True)
class Control:
    """One upstream check: its id, level, first policy version, and the pod test.

    `evaluate(metadata, spec, minor)` returns (reason, detail) when the pod violates the control
    at that policy minor, else None. A restricted control may replace baseline controls from its
    own first version (`overrides`), as upstream's OverrideCheckIDs do: the stricter rule
    subsumes them, and a pod should not be told the same thing twice.
    """

    id: str
    level: str
    since: int
    evaluate: PodTest
    overrides: tuple[str, ...] = ()
