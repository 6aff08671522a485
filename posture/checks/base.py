"""What a check is, what it returns, and how the catalog runs them.

A check is data (id, title, area, severity, rationale, remediation, the resources it needs,
references) plus a small pure function over the Inventory. The runner refuses to call the
function when a needed resource is missing: that check is `unknown` with the reason, never a
pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clusters.inventory import Inventory, KindStatus, gc_paused

logger = logging.getLogger(__name__)


class Area(StrEnum):
    PATCHING = "patching"
    NETWORK = "network"
    ACCESS = "access"
    ISOLATION = "isolation"
    SUPPLY_CHAIN = "supply_chain"

    @property
    def label(self) -> str:
        return {
            "patching": "Patching",
            "network": "Network",
            "access": "Access",
            "isolation": "Workload isolation",
            "supply_chain": "Supply chain",
        }[self.value]


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  (a verdict, not a password)
    FAIL = "fail"
    UNKNOWN = "unknown"  # data missing or forbidden: never counted as a pass
    NOT_APPLICABLE = "not_applicable"  # nothing to judge (e.g. no allow-list configured)
    ERROR = "error"  # the check itself raised; a bug, shown as such


@dataclass(frozen=True)
class Reference:
    """One source a check implements. `guide` is a guide slug; `version` the edition."""

    guide: str  # gke-hardening | cis-kubernetes | cis-gke | nsa-cisa | pss | rampart
    id: str  # section or control id within that guide/version
    version: str = ""
    title: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"guide": self.guide, "id": self.id, "version": self.version, "title": self.title}


@dataclass(frozen=True)
class Affected:
    kind: str
    namespace: str
    name: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "detail": self.detail,
        }


@dataclass
class Outcome:
    status: Status
    affected: list[Affected] = field(default_factory=list)
    # One line a person reads next to the status: what was observed vs expected, or why unknown.
    summary: str = ""

    @classmethod
    def passed(cls, summary: str = "") -> Outcome:
        return cls(Status.PASS, [], summary)

    @classmethod
    def failed(cls, affected: Iterable[Affected], summary: str = "") -> Outcome:
        return cls(Status.FAIL, sorted(set(affected), key=_affected_order), summary)

    @classmethod
    def from_affected(
        cls, affected: Iterable[Affected], *, passed: str = "", failed: str = ""
    ) -> Outcome:
        """Fail when anything is affected, else pass. `failed` may use {count}."""
        items = sorted(set(affected), key=_affected_order)
        if items:
            return cls(Status.FAIL, items, failed.format(count=len(items)))
        return cls(Status.PASS, [], passed)

    @classmethod
    def unknown(cls, summary: str) -> Outcome:
        return cls(Status.UNKNOWN, [], summary)

    @classmethod
    def not_applicable(cls, summary: str) -> Outcome:
        return cls(Status.NOT_APPLICABLE, [], summary)


def _affected_order(item: Affected) -> tuple[str, str, str, str]:
    return (item.namespace, item.kind, item.name, item.detail)


@dataclass(frozen=True)
class CheckContext:
    """Settings a check may depend on, passed in so checks stay pure."""

    allowed_registries: tuple[str, ...] = ()
    untrusted_namespace_label: str = "rampart.dev/untrusted"
    today: Any = None  # datetime.date; None means "today" in the runner


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    area: Area
    severity: Severity
    rationale: str
    remediation: str
    needs: tuple[str, ...]
    references: tuple[Reference, ...]
    evaluate: Callable[[Inventory, CheckContext], Outcome]
    # Needs satisfied by any one of these (e.g. the anonymous probe OR bindings).
    needs_version: bool = False
    needs_probe: bool = False


@dataclass
class Result:
    check: Check
    outcome: Outcome

    @property
    def status(self) -> Status:
        return self.outcome.status


REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    if check.id in REGISTRY:
        raise ValueError(f"duplicate check id {check.id}")
    REGISTRY[check.id] = check
    return check


def check(
    *,
    id: str,
    title: str,
    area: Area,
    severity: Severity,
    rationale: str,
    remediation: str,
    needs: tuple[str, ...] = (),
    references: tuple[Reference, ...] = (),
    needs_version: bool = False,
    needs_probe: bool = False,
) -> Callable[[Callable[[Inventory, CheckContext], Outcome]], Callable[..., Outcome]]:
    """Decorator that registers a pure function as a check."""

    def decorate(
        function: Callable[[Inventory, CheckContext], Outcome],
    ) -> Callable[[Inventory, CheckContext], Outcome]:
        register(
            Check(
                id=id,
                title=title,
                area=area,
                severity=severity,
                rationale=rationale,
                remediation=remediation,
                needs=needs,
                references=references,
                evaluate=function,
                needs_version=needs_version,
                needs_probe=needs_probe,
            )
        )
        return function

    return decorate


_MISSING_WORDS = {
    KindStatus.FORBIDDEN: "forbidden to the collector's credentials",
    KindStatus.NOT_SERVED: "not served by this cluster",
    KindStatus.NOT_COLLECTED: "not collected",
    KindStatus.ERROR: "could not be read",
    KindStatus.PARTIAL: "only partly readable (malformed objects were dropped)",
}


def missing_reason(check: Check, inventory: Inventory) -> str | None:
    """Why this check cannot be judged on this inventory, or None when it can."""
    reasons = []
    for key in check.needs:
        status = inventory.kind_status.get(key, KindStatus.NOT_COLLECTED)
        if status != KindStatus.OK:
            detail = inventory.kind_errors.get(key, "")
            reasons.append(f"{key} {_MISSING_WORDS[status]}" + (f" ({detail})" if detail else ""))
    if check.needs_version and not inventory.version:
        reasons.append("the API server version was not collected")
    if check.needs_probe and inventory.anonymous_probe is None:
        reasons.append("anonymous access was not probed (evidence bundles cannot probe)")
    return "; ".join(reasons) or None


def run_check(check: Check, inventory: Inventory, context: CheckContext) -> Result:
    reason = missing_reason(check, inventory)
    if reason:
        return Result(check, Outcome.unknown(reason))
    try:
        outcome = check.evaluate(inventory, context)
    except Exception as exc:  # a bug in one check must not hide the other results
        logger.exception("check %s raised", check.id)
        outcome = Outcome(Status.ERROR, [], f"check raised {type(exc).__name__}: {exc}")
    return Result(check, outcome)


def run_all(inventory: Inventory, context: CheckContext) -> list[Result]:
    from posture import checks as _load  # noqa: F401  (imports every check module once)

    # Checks allocate many short-lived objects and no cycles: a collection during them would
    # only rescan the inventory (see gc_paused).
    with gc_paused():
        try:
            return [run_check(c, inventory, context) for c in sorted(REGISTRY.values(), key=_order)]
        finally:
            # The shared views (workload index, ...) point back at the inventory; dropping them
            # lets reference counting free a large inventory as soon as the caller is done.
            inventory.forget_derived()


def _order(check: Check) -> tuple[int, str]:
    return (list(Area).index(check.area), check.id)
