"""What a check is, what it returns, and how the catalog runs them.

A check is data (id, title, area, severity, rationale, remediation, the inputs that can change
its verdict, references) plus a small pure function over the Inventory. Its inputs come in two
kinds, and the runner applies the three-valued rule to them so no check has to:

    needs     without these nothing can be concluded (a namespace's policy version, the
              ServiceAccount a pod falls back to): missing -> `unknown` with the reason.
    evidence  objects judged one by one (pods, workload templates, bindings): each failure
              found stands on its own, so with some of them missing a failure in hand is still
              a failure (listing what was not collected), while a pass is `unknown` -- a failure
              may hide in what was not collected. Never a pass on incomplete data.

An optional resource (an add-on CRD) that the cluster does not serve is known to be absent:
collected, and empty. A check of one provider's settings names its `distributions`: on a
cluster known to be another distribution it is not applicable (settled), never unknown, so a
kubeadm cluster's coverage does not drop for lack of GKE data (clusters.distribution).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clusters.distribution import LABELS, distribution_of
from clusters.inventory import Inventory, KindStatus, gc_paused
from posture.status import Status

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
    """A check's verdict: its status, every affected object, one line of explanation.

    `controls` holds the verdicts of the named controls one check judges together (each Pod
    Security control of `pss.baseline`, hostPID / hostIPC / hostNetwork of a host-namespaces
    check), so a checklist item is judged by exactly the control it names. `missing` names the
    inputs that were not collected (set by the runner).
    """

    status: Status
    affected: list[Affected] = field(default_factory=list)
    # One line a person reads next to the status: what was observed vs expected, or why unknown.
    summary: str = ""
    controls: dict[str, Outcome] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    # A not-applicable verdict decided by configuration or needed inputs alone ("no allow-list
    # is configured"), which missing evidence cannot change.
    settled: bool = False

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
    def not_applicable(cls, summary: str, *, settled: bool = False) -> Outcome:
        """Nothing to judge. `settled`: decided without any of the check's evidence."""
        return cls(Status.NOT_APPLICABLE, [], summary, settled=settled)


def _affected_order(item: Affected) -> tuple[str, str, str, str]:
    return (item.namespace, item.kind, item.name, item.detail)


@dataclass(frozen=True)
class CheckContext:
    """Settings a check may depend on, passed in so checks stay pure."""

    allowed_registries: tuple[str, ...] = ()
    untrusted_namespace_label: str = "rampart.dev/untrusted"
    today: Any = None  # datetime.date; None means "today" in the runner


Evaluate = Callable[[Inventory, CheckContext], Outcome]


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
    evaluate: Evaluate
    evidence: tuple[str, ...] = ()
    # The API server's /version, and the unauthenticated probe, as needed inputs.
    needs_version: bool = False
    needs_probe: bool = False
    # The distributions whose provider settings it judges ("gke"); empty: every cluster.
    distributions: tuple[str, ...] = ()

    # Templates read a check's fields; a callable would be called instead (with no arguments).
    do_not_call_in_templates = True

    def __call__(self, inventory: Inventory, context: CheckContext) -> Outcome:
        """The check's own function, without the runner's rules (tests call it directly)."""
        return self.evaluate(inventory, context)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every resource that can change this check's verdict."""
        return (*self.needs, *(key for key in self.evidence if key not in self.needs))

    def __reduce__(self) -> str | tuple[Any, ...]:
        """A registered check pickles as its id (cached page data holds checks): its function
        cannot be pickled, and the process reading it has the same catalog."""
        if REGISTRY.get(self.id) is self:
            return (registered_check, (self.id,))
        return super().__reduce__()


@dataclass
class Result:
    check: Check
    outcome: Outcome

    @property
    def status(self) -> Status:
        return self.outcome.status


REGISTRY: dict[str, Check] = {}


def registered_check(check_id: str) -> Check:
    return REGISTRY[check_id]


def register(check: Check) -> Check:
    if check.id in REGISTRY and REGISTRY[check.id] is not check:
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
    evidence: tuple[str, ...] = (),
    references: tuple[Reference, ...] = (),
    needs_version: bool = False,
    needs_probe: bool = False,
    distributions: tuple[str, ...] = (),
) -> Callable[[Evaluate], Check]:
    """Decorator turning a pure function into a Check; `posture.catalog` registers it."""

    def decorate(function: Evaluate) -> Check:
        return Check(
            id=id,
            title=title,
            area=area,
            severity=severity,
            rationale=rationale,
            remediation=remediation,
            needs=needs,
            evidence=evidence,
            references=references,
            evaluate=function,
            needs_version=needs_version,
            needs_probe=needs_probe,
            distributions=distributions,
        )

    return decorate


_MISSING_WORDS = {
    KindStatus.FORBIDDEN: "forbidden to the collector's credentials",
    KindStatus.NOT_SERVED: "not served by this cluster",
    KindStatus.NOT_COLLECTED: "not collected",
    KindStatus.ERROR: "could not be read",
    KindStatus.PARTIAL: "only partly collected",
}


def _gap(inventory: Inventory, key: str) -> str:
    status = inventory.kind_status.get(key, KindStatus.NOT_COLLECTED)
    detail = inventory.kind_errors.get(key, "")
    return f"{key} {_MISSING_WORDS.get(status, str(status))}" + (f" ({detail})" if detail else "")


def missing_reason(check: Check, inventory: Inventory) -> str | None:
    """Why this check cannot be judged at all on this inventory, or None when it can."""
    reasons = [_gap(inventory, key) for key in check.needs if not inventory.complete(key)]
    if check.needs_version and not inventory.version:
        reasons.append("the API server version was not collected")
    if check.needs_probe and inventory.anonymous_probe is None:
        reasons.append("anonymous access was not probed (evidence bundles cannot probe)")
    if check.evidence and not any(inventory.in_hand(key) for key in check.evidence):
        reasons.extend(_gap(inventory, key) for key in check.evidence)
    return "; ".join(reasons) or None


def _unmet(check: Check, inventory: Inventory) -> tuple[str, ...]:
    keys = [key for key in check.inputs if not inventory.complete(key)]
    return tuple(keys)


def incomplete(outcome: Outcome, gaps: str, missing: tuple[str, ...]) -> Outcome:
    """The verdict when some evidence was not collected: a failure stands, a pass cannot."""
    controls = {name: incomplete(c, gaps, missing) for name, c in outcome.controls.items()}
    if outcome.status == Status.FAIL:
        summary = f"{outcome.summary} Not collected: {gaps}; more may fail there.".strip()
        return Outcome(Status.FAIL, outcome.affected, summary, controls, missing)
    if outcome.status == Status.PASS or (
        outcome.status == Status.NOT_APPLICABLE and not outcome.settled
    ):
        summary = (
            f"Nothing failed in what was collected, but {gaps}: a failure there cannot be "
            "ruled out."
        )
        return Outcome(Status.UNKNOWN, [], summary, controls, missing)
    return Outcome(outcome.status, outcome.affected, outcome.summary, controls, missing)


def other_distribution(check: Check, inventory: Inventory) -> str | None:
    """Why a provider's check does not apply here (another known distribution), else None."""
    if not check.distributions:
        return None
    found = distribution_of(inventory)
    if not found or found in check.distributions:
        return None
    wanted = " and ".join(LABELS.get(name, name) for name in check.distributions)
    return f"{wanted} clusters only; this cluster is {LABELS.get(found, found)}."


def run_check(check: Check, inventory: Inventory, context: CheckContext) -> Result:
    elsewhere = other_distribution(check, inventory)
    if elsewhere:
        return Result(check, Outcome.not_applicable(elsewhere, settled=True))
    reason = missing_reason(check, inventory)
    if reason:
        return Result(check, Outcome(Status.UNKNOWN, [], reason, missing=_unmet(check, inventory)))
    try:
        outcome = check.evaluate(inventory, context)
    except Exception as exc:  # a bug in one check must not hide the other results
        logger.exception("check %s raised", check.id)
        outcome = Outcome(Status.ERROR, [], f"check raised {type(exc).__name__}: {exc}")
    absent = tuple(key for key in check.evidence if not inventory.complete(key))
    if absent:
        gaps = "; ".join(_gap(inventory, key) for key in absent)
        outcome = incomplete(outcome, gaps, absent)
    return Result(check, outcome)


def run_all(inventory: Inventory, context: CheckContext) -> list[Result]:
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
