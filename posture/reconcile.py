"""Reconciling findings: each evaluation brings the cluster's findings in line, by identity.

Only the checks an evaluation observed (raw status pass or fail) move findings:

    (none)   -> open      new: first seen in this evaluation
    open     -> open      still open (its detail and severity follow the latest text)
    open     -> resolved  the check passed, or failed without naming this object
    resolved -> open      reopened: times_reopened + 1, a new episode starts (opened_at)

A check that is unknown, in error or not applicable leaves its findings untouched: missing
data is never a pass, so it can neither resolve nor refresh them.

Only what changed is reconciled. Verdicts are stored by content (posture.results), so a check
whose CheckResult is the one the previous evaluation held saw exactly the same objects: its
findings are already right and are not even read. An unchanged re-collection of a cluster
with 100,000 open findings therefore writes no finding row. The rows of changed checks are
read as plain tuples and written in bulk (COPY on PostgreSQL).

`last_seen_*` is therefore kept exact where it can change: on every finding of a changed
check, and, when a check stops being observed (goes unknown), on its open findings, which
keep the previous evaluation as the last that saw them. An open finding whose check still
fails in the cluster's latest evaluation was seen by it: `last_seen` reads that (posture
code that shows last-seen uses `last_seen_at_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from posture.findings import Observed, observed_findings
from posture.models import CheckResult, Evaluation, Finding
from posture.status import OBSERVED, Status

BATCH = 1000
_COLUMNS = (
    "cluster_id",
    "check_id",
    "fingerprint",
    "kind",
    "namespace",
    "name",
    "field",
    "severity",
    "status",
    "detail",
    "first_seen_evaluation_id",
    "first_seen_at",
    "last_seen_evaluation_id",
    "last_seen_at",
    "opened_evaluation_id",
    "opened_at",
    "resolved_evaluation_id",
    "resolved_at",
    "times_reopened",
)


@dataclass(frozen=True)
class Changed:
    """One finding an evaluation opened, reopened or resolved: what rollups and tests read."""

    check_id: str
    kind: str
    namespace: str
    name: str
    field: str
    severity: str
    detail: str


@dataclass
class ReconcileResult:
    """What one evaluation changed; `still_open` counts the open findings it saw again."""

    new: list[Changed] = field(default_factory=list)
    still_open: int = 0
    resolved: list[Changed] = field(default_factory=list)
    reopened: list[Changed] = field(default_factory=list)

    @property
    def opened(self) -> list[Changed]:
        return [*self.new, *self.reopened]


def previous_evaluation(evaluation: Evaluation) -> Evaluation | None:
    """The cluster's evaluation just before this one: what its findings were reconciled to."""
    return (
        Evaluation.objects.filter(
            cluster_id=evaluation.cluster_id, created_at__lte=evaluation.created_at
        )
        .exclude(pk=evaluation.pk)
        .select_related("result_set")
        .order_by("-created_at", "-id")
        .first()
    )


def _verdicts(evaluation: Evaluation | None) -> dict[str, tuple[int, str]]:
    """check id -> (CheckResult id, raw status) of an evaluation."""
    if evaluation is None:
        return {}
    rows = CheckResult.objects.filter(pk__in=evaluation.result_set.result_ids)
    return {
        check_id: (pk, status)
        for pk, check_id, status in rows.values_list("pk", "check_id", "status")
    }


def findings_reconcile(
    *, evaluation: Evaluation, previous: Evaluation | str | None = "find"
) -> ReconcileResult:
    """Bring the cluster's findings in line with this evaluation. Call inside its transaction.

    `previous` is the evaluation the findings were last reconciled to (the cluster's latest
    before this one); found when not given.
    """
    if previous == "find":
        previous = previous_evaluation(evaluation)
    assert previous is None or isinstance(previous, Evaluation)
    now = evaluation.created_at or timezone.now()
    current, before = _verdicts(evaluation), _verdicts(previous)
    changed = {
        check_id for check_id, (pk, _) in current.items() if before.get(check_id, (None,))[0] != pk
    }
    observed_now = [c for c in changed if current[c][1] in OBSERVED]
    stopped = [
        c
        for c in changed
        if current[c][1] not in OBSERVED and before.get(c, (0, ""))[1] == Status.FAIL
    ]
    result = ReconcileResult()
    if stopped and previous is not None:
        # Not observed now: the previous evaluation stays the last that saw its open findings.
        Finding.objects.filter(
            cluster_id=evaluation.cluster_id, check_id__in=stopped, status=Finding.Status.OPEN
        ).update(last_seen_evaluation=previous, last_seen_at=previous.created_at)
    if observed_now:
        _reconcile_changed(evaluation, previous, now, observed_now, current, before, result)
    unchanged_failing = [
        c for c, (_, status) in current.items() if status == Status.FAIL and c not in changed
    ]
    if unchanged_failing:
        result.still_open += Finding.objects.filter(
            cluster_id=evaluation.cluster_id,
            check_id__in=unchanged_failing,
            status=Finding.Status.OPEN,
        ).count()
    return result


def _reconcile_changed(
    evaluation: Evaluation,
    previous: Evaluation | None,
    now: datetime,
    checks: list[str],
    current: dict[str, tuple[int, str]],
    before: dict[str, tuple[int, str]],
    result: ReconcileResult,
) -> None:
    observed: dict[str, Observed] = {}
    failing_ids = [current[c][0] for c in checks if current[c][1] == Status.FAIL]
    for check_id, affected in CheckResult.objects.filter(pk__in=failing_ids).values_list(
        "check_id", "affected"
    ):
        observed.update(observed_findings(check_id, affected))
    existing = {
        row[1]: row
        for row in Finding.objects.filter(cluster_id=evaluation.cluster_id, check_id__in=checks)
        .values_list(
            "pk", "fingerprint", "status", "detail", "severity", "check_id", "times_reopened"
        )
        .iterator(chunk_size=5000)
    }
    inserts: list[tuple[Any, ...]] = []
    reopened: list[tuple[int, Observed, int]] = []
    seen_again: list[int] = []
    texts: list[tuple[int, Observed]] = []
    for fingerprint, seen in observed.items():
        row = existing.get(fingerprint)
        if row is None:
            inserts.append(_new_row(evaluation, seen, now))
            result.new.append(_changed(seen))
        elif row[2] == Finding.Status.RESOLVED:
            reopened.append((row[0], seen, row[6] + 1))
            result.reopened.append(_changed(seen))
        else:
            seen_again.append(row[0])
            if row[3] != seen.detail or row[4] != seen.severity:
                texts.append((row[0], seen))
    result.still_open += len(seen_again)
    gone = [
        row
        for fingerprint, row in existing.items()
        if row[2] == Finding.Status.OPEN and fingerprint not in observed
    ]
    _insert(inserts)
    Finding.objects.bulk_update(
        [
            Finding(
                pk=pk,
                status=Finding.Status.OPEN,
                severity=seen.severity,
                detail=seen.detail,
                times_reopened=times,
                opened_at=now,
                opened_evaluation=evaluation,
                resolved_at=None,
                resolved_evaluation=None,
                last_seen_at=now,
                last_seen_evaluation=evaluation,
            )
            for pk, seen, times in reopened
        ],
        [
            "status",
            "severity",
            "detail",
            "times_reopened",
            "opened_at",
            "opened_evaluation",
            "resolved_at",
            "resolved_evaluation",
            "last_seen_at",
            "last_seen_evaluation",
        ],
        batch_size=BATCH,
    )
    Finding.objects.bulk_update(
        [Finding(pk=pk, detail=seen.detail, severity=seen.severity) for pk, seen in texts],
        ["detail", "severity"],
        batch_size=BATCH,
    )
    for start in range(0, len(seen_again), BATCH):
        Finding.objects.filter(pk__in=seen_again[start : start + BATCH]).update(
            last_seen_evaluation=evaluation, last_seen_at=now
        )
    _resolve(gone, evaluation, previous, now, before, result)


def _resolve(
    rows: list[tuple[Any, ...]],
    evaluation: Evaluation,
    previous: Evaluation | None,
    now: datetime,
    before: dict[str, tuple[int, str]],
    result: ReconcileResult,
) -> None:
    """Resolve open findings no longer observed. Those whose check failed in the previous
    evaluation were last seen there; the others keep the last-seen they hold."""
    seen_before = [r[0] for r in rows if before.get(r[5], (0, ""))[1] == Status.FAIL]
    others = [r[0] for r in rows if before.get(r[5], (0, ""))[1] != Status.FAIL]
    for ids, extra in ((seen_before, True), (others, False)):
        for start in range(0, len(ids), BATCH):
            values: dict[str, Any] = {
                "status": Finding.Status.RESOLVED,
                "resolved_at": now,
                "resolved_evaluation": evaluation,
            }
            if extra and previous is not None:
                values.update(last_seen_evaluation=previous, last_seen_at=previous.created_at)
            Finding.objects.filter(pk__in=ids[start : start + BATCH]).update(**values)
    if rows:
        fields = Finding.objects.filter(pk__in=[r[0] for r in rows]).values_list(
            "check_id", "kind", "namespace", "name", "field", "severity", "detail"
        )
        result.resolved.extend(Changed(*row) for row in fields.order_by("check_id", "id"))


def _changed(seen: Observed) -> Changed:
    identity = seen.identity
    return Changed(
        identity.check_id,
        identity.kind,
        identity.namespace,
        identity.name,
        identity.field,
        seen.severity,
        seen.detail,
    )


def _new_row(evaluation: Evaluation, seen: Observed, now: datetime) -> tuple[Any, ...]:
    identity = seen.identity
    return (
        evaluation.cluster_id,
        identity.check_id,
        identity.fingerprint,
        identity.kind,
        identity.namespace,
        identity.name,
        identity.field,
        seen.severity,
        Finding.Status.OPEN.value,
        seen.detail,
        evaluation.pk,
        now,
        evaluation.pk,
        now,
        evaluation.pk,
        now,
        None,
        None,
        0,
    )


def _insert(rows: list[tuple[Any, ...]]) -> None:
    """New findings in bulk: COPY on PostgreSQL (a hundred thousand rows in about a second,
    where the ORM's bulk_create took twenty), executemany elsewhere."""
    if not rows:
        return
    table = Finding._meta.db_table
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(_COLUMNS))
        for start in range(0, len(rows), BATCH):
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                rows[start : start + BATCH],
            )


def open_by_severity(*, cluster_id: int) -> dict[str, int]:
    """Open findings per severity: what the trend of open findings plots."""
    rows = (
        Finding.objects.filter(cluster_id=cluster_id, status=Finding.Status.OPEN)
        .values_list("severity")
        .annotate(count=Count("id"))
        .order_by()
    )
    return dict(rows)


def last_seen_at_for(finding: Finding, latest: Evaluation | None) -> datetime:
    """When a finding was last seen: the latest evaluation when it is open and its check still
    fails there (unchanged checks do not rewrite their findings), else what it records."""
    if (
        latest is not None
        and finding.status == Finding.Status.OPEN
        and latest.result_set.statuses.get(finding.check_id) == Status.FAIL
    ):
        return latest.created_at
    return finding.last_seen_at


def reconcile_result_for(*, evaluation: Evaluation) -> ReconcileResult:
    """The result `findings_reconcile` produced for this evaluation, read back from the rows.

    Alerting runs after the collection's transaction and may be re-run for the same evaluation
    (a retried task): reading the outcome back keeps it identical every time.
    """
    fields = ("check_id", "kind", "namespace", "name", "field", "severity", "detail")
    opened = Finding.objects.filter(opened_evaluation=evaluation).order_by("check_id", "id")
    new: list[Changed] = []
    reopened: list[Changed] = []
    for row in opened.values_list(*fields, "first_seen_evaluation_id"):
        (new if row[-1] == evaluation.pk else reopened).append(Changed(*row[:-1]))
    resolved = Finding.objects.filter(resolved_evaluation=evaluation).order_by("check_id", "id")
    failing = [c for c, s in evaluation.result_set.statuses.items() if s == Status.FAIL]
    still_open = (
        Finding.objects.filter(
            cluster_id=evaluation.cluster_id, check_id__in=failing, status=Finding.Status.OPEN
        )
        .exclude(opened_evaluation=evaluation)
        .count()
    )
    return ReconcileResult(
        new=new,
        reopened=reopened,
        resolved=[Changed(*row) for row in resolved.values_list(*fields)],
        still_open=still_open,
    )
