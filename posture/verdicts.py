"""Reading stored verdicts: one check's (or control's) raw evidence beside its effective verdict.

Every page, the posture JSON, compare, drift and the reports read verdicts through here. The
effective status, the points and the waived objects come from the evaluation's VerdictSet, as
`posture.evaluation.derive` wrote them; the summary and the affected objects from the raw
CheckResult. Nothing here decides a status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from posture.checks.base import REGISTRY, Check
from posture.models import CheckResult, Evaluation
from posture.status import Status


@dataclass
class CheckView:
    check_id: str
    check: Check | None
    status: str  # effective
    raw_status: str
    summary: str
    points: float = 0.0
    affected_total: int = 0
    # Every affected object (or none, when not asked for), each with "waived": True/False.
    affected: list[dict[str, Any]] = field(default_factory=list)
    waiver_ids: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)
    waived_controls: tuple[str, ...] = ()
    waived_total: int = 0

    @property
    def title(self) -> str:
        return self.check.title if self.check else self.check_id

    @property
    def label(self) -> str:
        return Status.label_of(self.status)

    @property
    def partially_waived(self) -> bool:
        return self.status == Status.FAIL and self.waived_total > 0


def check_views(
    evaluation: Evaluation,
    *,
    check_ids: Iterable[str] | None = None,
    with_affected: bool = True,
) -> list[CheckView]:
    """The evaluation's checks (or those named), in catalog order of the stored verdicts."""
    stored = evaluation.verdict_set.checks
    statuses = evaluation.verdict_set.statuses
    rows = evaluation.results
    if check_ids is not None:
        rows = rows.filter(check_id__in=list(check_ids))
    fields = ["check_id", "status", "summary", "affected_total", "missing", "controls"]
    if with_affected:
        fields.append("affected")
    views = []
    for row in rows.values(*fields):
        check_id = row["check_id"]
        entry = stored.get(check_id, {})
        waived = _waived_indexes(entry, row["affected_total"])
        affected = [
            {**obj, "waived": index in waived}
            for index, obj in enumerate(row.get("affected") or [])
        ]
        views.append(
            CheckView(
                check_id=check_id,
                check=REGISTRY.get(check_id),
                status=statuses.get(check_id, row["status"]),
                raw_status=row["status"],
                summary=row["summary"],
                points=float(entry.get("points", 0.0)),
                affected_total=max(row["affected_total"], len(affected)),
                affected=affected,
                waiver_ids=tuple(entry.get("waivers", ())),
                missing=tuple(row["missing"] or ()),
                controls=row["controls"] or {},
                waived_controls=tuple(entry.get("waived_controls", ())),
                waived_total=len(waived),
            )
        )
    order = {check_id: index for index, check_id in enumerate(REGISTRY)}
    return sorted(views, key=lambda view: (order.get(view.check_id, len(order)), view.check_id))


def _waived_indexes(entry: dict[str, Any], total: int) -> set[int]:
    if entry.get("whole") or entry.get("status") == Status.WAIVED:
        return set(range(total))
    return set(entry.get("waived", ()))


def waivers_applied(view: CheckView, stored: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """The waivers the stored verdict applied to this check (as the verdict set recorded them:
    id, expiry, owner), for pages that say what is waived and until when."""
    return [
        {
            "id": pk,
            "expires": (stored[pk].get("expires_at") or "")[:10],
            "owner": stored[pk].get("owner", ""),
        }
        for pk in view.waiver_ids
        if pk in stored
    ]


def control_view(view: CheckView, control: str) -> CheckView:
    """One control of a check as a view of its own: its status and its objects only."""
    judged = view.controls.get(control)
    if judged is None:
        return CheckView(
            check_id=f"{view.check_id}/{control}",
            check=view.check,
            status=view.status if view.status in (Status.UNKNOWN, Status.ERROR) else "unknown",
            raw_status=view.raw_status,
            summary=view.summary,
        )
    objects = []
    waived = 0
    for index, detail in judged.get("affected") or []:
        parent = view.affected[index] if 0 <= index < len(view.affected) else {}
        objects.append({**parent, "detail": detail})
        waived += bool(parent.get("waived"))
    raw_status = str(judged.get("status", Status.UNKNOWN))
    status = Status.WAIVED if control in view.waived_controls else raw_status
    return CheckView(
        check_id=f"{view.check_id}/{control}",
        check=view.check,
        status=status,
        raw_status=raw_status,
        summary=str(judged.get("summary", "")),
        affected_total=len(objects),
        affected=objects,
        waiver_ids=view.waiver_ids,
        missing=view.missing,
        waived_total=waived,
    )


def result_for(evaluation: Evaluation, check_id: str) -> CheckResult | None:
    return evaluation.results.filter(check_id=check_id).first()


_GAP_WORDS = {
    "forbidden": "forbidden",
    "not_collected": "not collected",
    "not_served": "not served",
    "error": "could not be read",
    "partial": "partly collected",
}


@dataclass(frozen=True)
class CauseLine:
    """One cause of an unknown verdict: `forbidden: roles, rolebindings`, and what the API
    or the source said about it, each distinct message once."""

    text: str
    said: tuple[str, ...] = ()


def cause_lines(
    missing: Iterable[str], kind_status: dict[str, Any], kind_errors: dict[str, Any]
) -> list[CauseLine]:
    """The missing inputs grouped one line per cause, never the raw error per input. Pure."""
    from clusters.resources import EXTRA_INPUTS

    grouped: dict[str, list[str]] = {}
    said: dict[str, list[str]] = {}
    for key in missing:
        status = str(kind_status.get(key, "not_collected"))
        extra = EXTRA_INPUTS.get(key)
        if extra is not None and extra.absent and status == "not_collected":
            cause = extra.absent
        else:
            cause = _GAP_WORDS.get(status, status.replace("_", " "))
        grouped.setdefault(cause, []).append(key)
        message = str(kind_errors.get(key) or "")
        if message and message not in said.setdefault(cause, []):
            said[cause].append(message)
    lines = []
    for cause, keys in grouped.items():
        text = cause if cause.startswith("needs ") else f"{cause}: {', '.join(keys)}"
        lines.append(CauseLine(text, tuple(said.get(cause, ()))))
    return lines


def gap_lines(missing: Iterable[str], run: Any) -> list[CauseLine]:
    """Why a check is unknown, one line per cause, from what its run recorded."""
    return cause_lines(missing, run.kind_status or {}, run.kind_errors or {})


def reference_rows(check: Check | None) -> list[dict[str, str]]:
    """A check's references with the name of each guide, as pages list them."""
    from posture.guides import guide_label

    if check is None:
        return []
    return [{**ref.as_dict(), "guide_label": guide_label(ref.guide)} for ref in check.references]


@dataclass
class StoredEntries:
    """What a stored evaluation says of every judging entry, for explaining checklist items."""

    entries: dict[str, Any]  # key -> posture.checklist.EntryVerdict
    causes: dict[str, list[str]]  # check id -> why it could not judge
    waived_until: dict[str, list[str]]  # check id -> expiry dates of the waivers applied


def stored_entries(evaluation: Evaluation, views: Iterable[CheckView]) -> StoredEntries:
    """The stored verdicts as posture.checklist reads them, through the derivation's own
    `entry_verdicts` (one owner for what an entry's verdict is)."""
    from posture.evaluation import CheckVerdict, entry_verdicts
    from posture.results import Verdict

    views = list(views)
    raw = {
        view.check_id: Verdict(view.check_id, view.raw_status, view.summary, controls=view.controls)
        for view in views
    }
    checks = {
        view.check_id: CheckVerdict(
            status=view.status,
            raw_status=view.raw_status,
            waivers=view.waiver_ids,
            waived_controls=view.waived_controls,
        )
        for view in views
    }
    causes: dict[str, list[str]] = {}
    for cause, check_ids in evaluation.verdict_set.causes:
        for check_id in check_ids:
            causes.setdefault(check_id, []).append(cause)
    expiry = {
        waiver["id"]: (waiver.get("expires_at") or "")[:10]
        for waiver in evaluation.verdict_set.waivers
    }
    waived_until = {
        view.check_id: [expiry[pk] for pk in view.waiver_ids if expiry.get(pk)]
        for view in views
        if view.waiver_ids
    }
    return StoredEntries(entry_verdicts(raw, checks), causes, waived_until)
