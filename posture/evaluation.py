"""Evaluation: an inventory in, the effective verdict out, computed once.

    evaluate(inventory, governance, context) = derive(judge(inventory, checks), governance, context)

`judge` runs every check on the inventory: the raw verdicts, each with its controls' verdicts
(the expensive part, done once per collection). `derive` turns raw verdicts and governance
(approved waivers, attestations) into what every page, export and report reads:

    check     its raw status, or `waived` when an active waiver covers every affected object
              (or the whole check); the points it costs the score; the objects waived
    score     posture.scoring's one formula over the effective statuses, with coverage
    item      each guide item judged by exactly the checks and controls it names
              (posture.guides), or by its attestation when it is manual
    causes    why checks are unknown, one line per cause ("forbidden: rolebindings (3 checks)")

Both are pure: no database, no clock (`today` is an input). The pipeline stores the result; a
waiver or attestation change re-derives the stored evaluation from its stored raw verdicts
through this same `derive`, so no page ever computes a verdict or a score of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from clusters.inventory import Inventory, KindStatus
from clusters.resources import EXTRA_INPUTS
from posture.checklist import AttestationTerms, EntryVerdict, item_status
from posture.checks.base import CheckContext, run_all
from posture.guides import guides
from posture.results import Verdict, verdict_of
from posture.scoring import ScoreReport, score, scored_verdict
from posture.status import UNJUDGED, Status

# How a missing input reads in a cause line, by its collection status.
_GAP_WORDS = {
    KindStatus.FORBIDDEN: "forbidden",
    KindStatus.NOT_COLLECTED: "not collected",
    KindStatus.NOT_SERVED: "not served",
    KindStatus.ERROR: "could not be read",
    KindStatus.PARTIAL: "partly collected",
}


@dataclass(frozen=True)
class WaiverTerms:
    """What an approved, unexpired waiver says: which failing objects of a check it accepts."""

    id: int
    check_id: str
    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()  # "Kind/namespace/name"; namespace "" when cluster-scoped
    expires_at: datetime | None = None
    owner: str = ""
    reason: str = ""

    def as_stored(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "check_id": self.check_id,
            "namespaces": list(self.namespaces),
            "workloads": list(self.workloads),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "owner": self.owner,
            "reason": self.reason,
        }

    @property
    def scoped(self) -> bool:
        return bool(self.namespaces or self.workloads)

    def covers(self, obj: Mapping[str, Any]) -> bool:
        """Whether an affected object {kind, namespace, name} is inside this waiver's scope."""
        if not self.scoped:
            return True
        namespace = obj.get("namespace") or ""
        if namespace and namespace in self.namespaces:
            return True
        return f"{obj.get('kind', '')}/{namespace}/{obj.get('name', '')}" in self.workloads


@dataclass(frozen=True)
class Governance:
    """The cluster's approved waivers and unrevoked attestations at the time of deriving."""

    waivers: tuple[WaiverTerms, ...] = ()
    attestations: tuple[AttestationTerms, ...] = ()  # unrevoked, lapsed or not

    def waivers_of(self, check_id: str) -> list[WaiverTerms]:
        return [waiver for waiver in self.waivers if waiver.check_id == check_id]

    def valid_until(self, today: date) -> datetime | date | None:
        """When the derived verdict goes stale by itself: the first waiver expiry or the first
        day an attestation is past due. Re-deriving then keeps stored verdicts true."""
        moments: list[datetime | date] = [w.expires_at for w in self.waivers if w.expires_at]
        moments += [
            a.reattest_by + timedelta(days=1) for a in self.attestations if a.reattest_by >= today
        ]
        return min(moments, key=_as_datetime) if moments else None


def _as_datetime(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=None)
    return datetime.combine(moment, time.min)


@dataclass(frozen=True)
class DeriveContext:
    today: date
    distribution: str = ""  # "gke", "other", or "" when the version is unknown
    kind_status: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckVerdict:
    """One check's effective verdict."""

    status: str
    raw_status: str
    points: float = 0.0  # what it costs the overall score (0 unless failing)
    waivers: tuple[int, ...] = ()
    waived: tuple[int, ...] | None = None  # indexes of waived affected objects; None: none
    whole: bool = False  # an unscoped waiver covers the check
    # Failing controls whose every object is waived: effectively waived, like a check.
    waived_controls: tuple[str, ...] = ()

    def as_stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"status": self.status}
        if self.raw_status != self.status:
            stored["raw"] = self.raw_status
        if self.points:
            stored["points"] = self.points
        if self.waivers:
            stored["waivers"] = list(self.waivers)
        if self.whole:
            stored["whole"] = True
        elif self.waived:
            stored["waived"] = list(self.waived)
        if self.waived_controls:
            stored["waived_controls"] = list(self.waived_controls)
        return stored


@dataclass(frozen=True)
class ItemVerdict:
    status: str
    attestation: int | None = None  # the attestation an `attested` item rests on

    def as_stored(self) -> str | list[Any]:
        return [self.status, self.attestation] if self.attestation else self.status


@dataclass
class Derived:
    checks: dict[str, CheckVerdict]
    items: dict[str, dict[str, ItemVerdict]]
    report: ScoreReport
    causes: list[tuple[str, list[str]]]
    waivers: list[WaiverTerms] = field(default_factory=list)  # those applied

    @property
    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for verdict in self.checks.values():
            counts[verdict.status] = counts.get(verdict.status, 0) + 1
        return counts

    def as_stored(self) -> dict[str, Any]:
        """The VerdictSet's content (posture.models.VerdictSet), JSON-ready."""
        return {
            "statuses": {check_id: v.status for check_id, v in sorted(self.checks.items())},
            "checks": {
                check_id: stored
                for check_id, v in sorted(self.checks.items())
                if len(stored := v.as_stored()) > 1
            },
            "items": {
                guide: {item_id: v.as_stored() for item_id, v in items.items()}
                for guide, items in self.items.items()
            },
            "causes": [[cause, checks] for cause, checks in self.causes],
            "waivers": [waiver.as_stored() for waiver in self.waivers],
        }


def judge(inventory: Inventory, context: CheckContext) -> list[Verdict]:
    """Every check's raw verdict on this inventory."""
    return [verdict_of(result) for result in run_all(inventory, context)]


def evaluate(
    inventory: Inventory,
    *,
    governance: Governance,
    checks: CheckContext,
    context: DeriveContext,
) -> tuple[list[Verdict], Derived]:
    verdicts = judge(inventory, checks)
    return verdicts, derive(verdicts, governance=governance, context=context)


def derive(
    verdicts: Iterable[Verdict], *, governance: Governance, context: DeriveContext
) -> Derived:
    raw = {verdict.check_id: verdict for verdict in verdicts}
    effective = {
        check_id: _apply_waivers(verdict, governance.waivers_of(check_id))
        for check_id, verdict in raw.items()
    }
    scored = {
        check_id: scored_verdict(check_id, status)
        for check_id, (status, _, _, _) in effective.items()
    }
    report = score(scored.values())
    checks = {
        check_id: CheckVerdict(
            status=status,
            raw_status=raw[check_id].status,
            points=report.contribution(scored[check_id]),
            waivers=applied,
            waived=waived,
            whole=whole,
            waived_controls=_waived_controls(raw[check_id], status, waived, whole),
        )
        for check_id, (status, waived, applied, whole) in effective.items()
    }
    causes = _causes(raw, context.kind_status)
    entries = entry_verdicts(raw, checks)
    items = {
        guide.slug: {
            item.id: ItemVerdict(
                *item_status(
                    guide,
                    item,
                    entries,
                    attestations=governance.attestations,
                    today=context.today,
                    distribution=context.distribution,
                )
            )
            for item in guide.items
        }
        for guide in guides().values()
    }
    applied = {pk for verdict in checks.values() for pk in verdict.waivers}
    return Derived(
        checks=checks,
        items=items,
        report=report,
        causes=_cause_lines(causes),
        waivers=[waiver for waiver in governance.waivers if waiver.id in applied],
    )


def _apply_waivers(
    verdict: Verdict, waivers: Sequence[WaiverTerms]
) -> tuple[str, tuple[int, ...] | None, tuple[int, ...], bool]:
    """(effective status, waived object indexes, applied waiver ids, waived as a whole).

    Waivers only turn a failure into `waived`: unknown stays unknown, pass stays pass. An
    unscoped waiver waives the whole check; scoped waivers waive it only when every affected
    object is inside their combined scope, and otherwise mark the objects they cover.
    """
    if verdict.status != Status.FAIL or not waivers:
        return verdict.status, None, (), False
    whole = [w.id for w in waivers if not w.scoped]
    if whole:
        return Status.WAIVED, None, tuple(whole), True
    waived: list[int] = []
    applied: list[int] = []
    for index, obj in enumerate(verdict.affected):
        covering = [w.id for w in waivers if w.covers(obj)]
        if covering:
            waived.append(index)
            applied.extend(pk for pk in covering if pk not in applied)
    everything = bool(verdict.affected) and len(waived) == len(verdict.affected)
    status = Status.WAIVED if everything else Status.FAIL
    return status, tuple(waived) or None, tuple(applied), False


def _waived_controls(
    verdict: Verdict, status: str, waived: tuple[int, ...] | None, whole: bool
) -> tuple[str, ...]:
    """The failing controls whose every affected object is waived."""
    everything = whole or status == Status.WAIVED
    covered = set(waived or ())
    names = []
    for name, control in sorted(verdict.controls.items()):
        if control.get("status") != Status.FAIL:
            continue
        indexes = [pair[0] for pair in control.get("affected") or []]
        if everything or (indexes and all(index in covered for index in indexes)):
            names.append(name)
    return tuple(names)


def _causes(raw: Mapping[str, Verdict], kind_status: Mapping[str, str]) -> dict[str, list[str]]:
    """Check id -> the causes it lacks data for: one per missing input, else its summary."""
    causes: dict[str, list[str]] = {}
    for check_id, verdict in raw.items():
        if verdict.status not in UNJUDGED and not verdict.missing:
            continue
        lines = [_gap_line(key, kind_status) for key in verdict.missing]
        if not lines and verdict.status in UNJUDGED:
            lines = [verdict.summary or Status.label_of(verdict.status)]
        causes[check_id] = lines
    return causes


def _gap_line(key: str, kind_status: Mapping[str, str]) -> str:
    status = kind_status.get(key, KindStatus.NOT_COLLECTED)
    extra = EXTRA_INPUTS.get(key)
    if extra is not None and extra.absent and status == KindStatus.NOT_COLLECTED:
        return extra.absent  # says what a person must do, not only what is missing
    return f"{_GAP_WORDS.get(status, status)}: {key}"  # type: ignore[call-overload]


def _cause_lines(causes: Mapping[str, list[str]]) -> list[tuple[str, list[str]]]:
    by_cause: dict[str, list[str]] = {}
    for check_id, lines in sorted(causes.items()):
        for line in lines:
            by_cause.setdefault(line, []).append(check_id)
    return sorted(by_cause.items(), key=lambda pair: (-len(pair[1]), pair[0]))


def entry_verdicts(
    raw: Mapping[str, Verdict], checks: Mapping[str, CheckVerdict]
) -> dict[str, EntryVerdict]:
    """Every judging entry guides may name: each check, and each control of a check."""
    entries: dict[str, EntryVerdict] = {}
    for check_id, verdict in checks.items():
        judged = raw[check_id]
        entries[check_id] = EntryVerdict(verdict.status, judged.summary)
        for control, stored in judged.controls.items():
            status = str(stored.get("status", Status.UNKNOWN))
            if control in verdict.waived_controls:
                status = Status.WAIVED
            entries[f"{check_id}/{control}"] = EntryVerdict(status, str(stored.get("summary", "")))
    # A control its check did not report (the check was unknown, or raised) shares its verdict.
    for guide in guides().values():
        for item in guide.items:
            for key in item.checks:
                check_id, _, control = key.partition("/")
                if control and key not in entries and check_id in entries:
                    parent = entries[check_id]
                    status = parent.status if parent.status in UNJUDGED else Status.UNKNOWN
                    summary = parent.summary or f"{control} was not judged by {check_id}"
                    entries[key] = EntryVerdict(status, summary)
    return entries
