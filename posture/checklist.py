"""A guide item's verdict, and the sentence that explains it. Pure: no database, no clock.

An item is judged by exactly the entries it names (posture.guides): checks, or single controls
of a check (`pss.baseline/sysctls`), never by an aggregate that fails for another control's
reason. A manual item that also has entries is judged by them; only when none of them could
judge it (provider data not collected) does it fall back to its attestation.

    not_applicable  superseded, provider-owned on this distribution, or for another provider
    fail            an entry judging the item fails
    unknown         an entry could not judge (not collected, forbidden, not evaluated)
    manual          an entry says a person must decide (kube-bench WARN/INFO): the item
                    falls back to its attestation, never a pass
    waived          every failing entry is waived by an active waiver
    pass            every entry passes (or is not applicable)
    attested        a manual item with a current attestation
    manual          a manual item awaiting an attestation (or whose last one lapsed)

`item_status` decides, once, when an evaluation is derived (posture.evaluation). The stored
verdict keeps the status; `item_reason` writes its sentence from the stored facts when a page
or a report shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from posture.guides import Guide, Item, verdict_key_check
from posture.status import UNJUDGED, Status

NOT_EVALUATED = "not evaluated in this collection"


@dataclass(frozen=True)
class EntryVerdict:
    """The effective status of one judging entry (a check or a control), and its summary."""

    status: str
    summary: str = ""


@dataclass(frozen=True)
class AttestationTerms:
    """A person's attestation of a manual item, current until `reattest_by` (inclusive)."""

    id: int
    guide: str
    item_id: str
    reattest_by: date


def _entries(item: Item, verdicts: Mapping[str, EntryVerdict]) -> list[tuple[str, EntryVerdict]]:
    return [
        (key, verdicts.get(key, EntryVerdict(Status.UNKNOWN, NOT_EVALUATED))) for key in item.checks
    ]


def _own(
    guide: Guide, item: Item, attestations: Iterable[AttestationTerms]
) -> list[AttestationTerms]:
    return [a for a in attestations if a.guide == guide.slug and a.item_id == item.id]


def current_attestation(
    guide: Guide, item: Item, attestations: Iterable[AttestationTerms], *, today: date
) -> AttestationTerms | None:
    """The unlapsed attestation reaching furthest, if any (revoked ones are never passed in)."""
    return max(
        (a for a in _own(guide, item, attestations) if a.reattest_by >= today),
        key=lambda a: a.reattest_by,
        default=None,
    )


def item_status(
    guide: Guide,
    item: Item,
    verdicts: Mapping[str, EntryVerdict],
    *,
    attestations: Sequence[AttestationTerms],
    today: date,
    distribution: str,
) -> tuple[str, int | None]:
    """(status, the attestation it rests on) for one item, from its entries' verdicts."""
    if item.not_applicable_reason(guide, distribution):
        return Status.NOT_APPLICABLE, None
    statuses = [verdict.status for _, verdict in _entries(item, verdicts)]
    judged = [status for status in statuses if status not in UNJUDGED]
    if statuses and (judged or not item.manual):
        if Status.FAIL in statuses:
            return Status.FAIL, None
        if len(judged) < len(statuses):
            return Status.UNKNOWN, None
        if Status.MANUAL in statuses:
            return _attested(guide, item, attestations, today)
        if Status.WAIVED in statuses:
            return Status.WAIVED, None
        if all(status == Status.NOT_APPLICABLE for status in statuses):
            return Status.NOT_APPLICABLE, None
        return Status.PASS, None
    return _attested(guide, item, attestations, today)


def _attested(
    guide: Guide, item: Item, attestations: Sequence[AttestationTerms], today: date
) -> tuple[str, int | None]:
    current = current_attestation(guide, item, attestations, today=today)
    return (Status.ATTESTED, current.id) if current else (Status.MANUAL, None)


def counted_causes(causes: Iterable[tuple[str, list[str]]]) -> str:
    """`forbidden: rolebindings (3 checks); not collected: pods (1 check)`."""
    return "; ".join(
        f"{cause} ({len(checks)} check{'s' if len(checks) != 1 else ''})"
        for cause, checks in causes
    )


def item_reason(
    guide: Guide,
    item: Item,
    status: str,
    verdicts: Mapping[str, EntryVerdict],
    *,
    causes: Mapping[str, list[str]],
    waived_until: Mapping[str, list[str]],
    attestations: Sequence[AttestationTerms],
    today: date,
    distribution: str,
) -> str:
    """The sentence beside a stored item status: what failed, what was not collected, why not
    applicable, until when waived or attested. Writes; never decides."""
    reason = item.not_applicable_reason(guide, distribution)
    if status == Status.NOT_APPLICABLE and reason:
        return reason
    entries = _entries(item, verdicts)
    if status == Status.FAIL:
        return "; ".join(f"{key}: {v.summary}" for key, v in entries if v.status == Status.FAIL)
    if status == Status.UNKNOWN:
        return _unknown([key for key, v in entries if v.status in UNJUDGED], verdicts, causes)
    if status == Status.WAIVED:
        until = sorted(
            {day for key, _ in entries for day in waived_until.get(verdict_key_check(key), [])}
        )
        return "Accepted risk until " + ", ".join(until)
    if status == Status.NOT_APPLICABLE:
        return "; ".join(v.summary for _, v in entries if v.summary)
    if status == Status.PASS:
        return ""
    undecided = [v.summary for _, v in entries if v.status == Status.MANUAL and v.summary]
    if undecided:
        automated = " " + "; ".join(undecided)
    elif item.checks:
        automated = " Automated evidence unavailable: " + _unknown(
            list(item.checks), verdicts, causes
        )
    else:
        automated = ""
    if status == Status.ATTESTED:
        current = current_attestation(guide, item, attestations, today=today)
        return f"Attested until {current.reattest_by:%Y-%m-%d}" if current else "Attested"
    lapsed = max(_own(guide, item, attestations), key=lambda a: a.reattest_by, default=None)
    if lapsed is not None:
        return (
            f"The last attestation lapsed on {lapsed.reattest_by:%Y-%m-%d}; attest again."
            + automated
        )
    if undecided:
        return "Record an attestation:" + automated
    return f"Evidence class {item.evidence}: record an attestation." + automated


def _unknown(
    keys: Sequence[str], verdicts: Mapping[str, EntryVerdict], causes: Mapping[str, list[str]]
) -> str:
    by_cause: dict[str, list[str]] = {}
    own = [key for key in keys if "/" in key and _own_summary(key, verdicts)]
    for key in own:  # a control that could not judge for a reason of its own says it
        by_cause.setdefault(verdicts[key].summary, []).append(verdict_key_check(key))
    keys = [key for key in keys if key not in own]
    for check_id in sorted({verdict_key_check(key) for key in keys}):
        lines = causes.get(check_id)
        if lines:
            for line in lines:
                by_cause.setdefault(line, []).append(check_id)
        elif verdicts.get(check_id) is None:
            by_cause.setdefault(NOT_EVALUATED, []).append(check_id)
    return counted_causes(sorted(by_cause.items()))


def _own_summary(key: str, verdicts: Mapping[str, EntryVerdict]) -> bool:
    """Whether a control's verdict explains itself (not its check's reason, shared)."""
    control, parent = verdicts.get(key), verdicts.get(verdict_key_check(key))
    return bool(
        control and control.summary and (parent is None or parent.summary != control.summary)
    )
