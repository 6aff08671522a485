"""Read side of the compare page: what changed between two evaluations of one cluster.

Findings are diffed with `posture.findings.observed_findings`, the identity the reconcile uses,
so a rolling update (new ReplicaSet hash, new pod names) compares as unchanged by construction.

As in the reconcile, a finding only appears or disappears where its check was judged (pass or
fail) in both evaluations: a check that went unknown lost its data, it was not fixed, so its
findings are counted apart as "not comparable" rather than listed as resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from clusters.models import Cluster
from posture.checks.base import REGISTRY, Area, Severity
from posture.findings import Observed, observed_findings
from posture.models import CheckResult, Evaluation, Finding
from posture.status import OBSERVED, Status

CHOICES_CAP = 200  # evaluations offered in the form: a year of daily collections fits twice
LIST_CAP = 200  # rows per list (status changes, new, reopened, resolved findings)
NOT_EVALUATED = "Not evaluated"
# What a person reviewing a change needs first: regressions, then fixes, then the rest.
CHANGE_ORDER = {"regressed": 0, "fixed": 1, "other": 2}


class EvaluationNotHeld(Exception):
    """The id names no evaluation of this cluster: another cluster's, or pruned by retention."""

    def __init__(self, evaluation_id: int) -> None:
        super().__init__(evaluation_id)
        self.evaluation_id = evaluation_id


@dataclass(frozen=True)
class Capped[T]:
    """The first LIST_CAP rows of a list and how many there were in all."""

    rows: list[T]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def capped[T](items: list[T], cap: int = LIST_CAP) -> Capped[T]:
    return Capped(items[:cap], len(items))


@dataclass(frozen=True)
class EvaluationPair:
    before: Evaluation
    after: Evaluation
    swapped: bool  # the request named as `from` an evaluation newer than `to`


@dataclass(frozen=True)
class Delta:
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return round(self.after - self.before, 1)


@dataclass(frozen=True)
class AreaDelta(Delta):
    key: str = ""
    label: str = ""


@dataclass(frozen=True)
class CountChange:
    kind: str
    before: int | None
    after: int | None

    @property
    def change(self) -> int:
        return (self.after or 0) - (self.before or 0)


@dataclass(frozen=True)
class StatusChange:
    check_id: str
    title: str
    area_label: str
    severity: str
    before: str  # "" when the evaluation has no verdict for the check (added to the catalog)
    after: str

    @property
    def before_label(self) -> str:
        return Status.label_of(self.before) if self.before else NOT_EVALUATED

    @property
    def after_label(self) -> str:
        return Status.label_of(self.after) if self.after else NOT_EVALUATED

    @property
    def kind(self) -> str:
        if self.after == "fail":
            return "regressed"
        if self.before == "fail" and self.after == "pass":
            return "fixed"
        return "other"


@dataclass(frozen=True)
class FindingChange:
    check_id: str
    title: str
    severity: str
    kind: str
    namespace: str
    name: str
    field: str
    detail: str
    first_seen_at: datetime | None = None
    times_reopened: int = 0


@dataclass(frozen=True)
class FindingsDiff:
    new: Capped[FindingChange]
    reopened: Capped[FindingChange]
    resolved: Capped[FindingChange]
    still_open: int
    # Seen on one side only, their check not judged on the other: neither new nor resolved.
    not_comparable: int
    not_comparable_checks: list[str]


@dataclass(frozen=True)
class Comparison:
    before: Evaluation
    after: Evaluation
    swapped: bool
    score: Delta
    coverage: Delta
    areas: list[AreaDelta]
    version_before: str
    version_after: str
    object_counts: list[CountChange]
    unchanged_counts: int
    status_changes: Capped[StatusChange]
    findings: FindingsDiff

    @property
    def same(self) -> bool:
        return self.before.pk == self.after.pk

    @property
    def before_label(self) -> str:
        return _label_of(self.before)

    @property
    def after_label(self) -> str:
        return _label_of(self.after)


def _label_of(evaluation: Evaluation) -> str:
    return evaluation_label(
        created_at=evaluation.created_at,
        score=evaluation.score,
        version=evaluation.run.kubernetes_version,
    )


def evaluation_span(*, cluster: Cluster) -> tuple[datetime | None, datetime | None]:
    """When the cluster's oldest and newest evaluations still held were made (the date range
    the compare form offers)."""
    span = Evaluation.objects.for_cluster(cluster).aggregate(
        oldest=Min("created_at"), newest=Max("created_at")
    )
    return span["oldest"], span["newest"]


def evaluation_label(*, created_at: datetime, score: float | None, version: str) -> str:
    """`2026-11-26 06:00 · score 87.5 · v1.35.2`, in the site's time zone."""
    parts = [
        timezone.localtime(created_at).strftime("%Y-%m-%d %H:%M"),
        f"score {score:.1f}" if score is not None else "no score",
    ]
    if version:
        parts.append(version)
    return " · ".join(parts)


def evaluation_choices(
    *, cluster: Cluster, pair: EvaluationPair | None = None
) -> tuple[list[tuple[int, str]], bool]:
    """The cluster's evaluations still held, newest first, capped; and whether there are more.

    The pair being compared is always offered, even when it is older than the cap.
    """
    rows = list(
        Evaluation.objects.for_cluster(cluster)
        .order_by("-created_at", "-id")
        .values_list("pk", "created_at", "score", "run__kubernetes_version")[: CHOICES_CAP + 1]
    )
    more = len(rows) > CHOICES_CAP
    rows = rows[:CHOICES_CAP]
    listed = {row[0] for row in rows}
    for evaluation in (pair.after, pair.before) if pair else ():
        if evaluation.pk not in listed:
            listed.add(evaluation.pk)
            rows.append(
                (
                    evaluation.pk,
                    evaluation.created_at,
                    evaluation.score,
                    evaluation.run.kubernetes_version,
                )
            )
    choices = [
        (pk, evaluation_label(created_at=created_at, score=score, version=version))
        for pk, created_at, score, version in rows
    ]
    return choices, more


def evaluation_pair(
    *, cluster: Cluster, from_id: int | None, to_id: int | None
) -> EvaluationPair | None:
    """The two evaluations to compare, older first; defaults to the latest and the one before.

    None when the cluster has fewer than two evaluations and none was named. Raises
    EvaluationNotHeld for an id that is not one of this cluster's evaluations.
    """
    held = Evaluation.objects.for_cluster(cluster).select_related(
        "run", "result_set", "verdict_set"
    )
    after = _held(held, to_id) if to_id is not None else held.order_by("-created_at", "-id").first()
    if after is None:
        return None
    before = _held(held, from_id) if from_id is not None else _before(held, after)
    if before is None:
        return None
    if (before.created_at, before.pk) > (after.created_at, after.pk):
        # Only a `from` the person chose is worth a remark; a default is just put in order.
        return EvaluationPair(before=after, after=before, swapped=from_id is not None)
    return EvaluationPair(before=before, after=after, swapped=False)


def _before(held: QuerySet[Evaluation], after: Evaluation) -> Evaluation | None:
    """The latest earlier evaluation that differs from `after` in its stored verdicts or raw
    results (a new VerdictSet or ResultSet: both are stored once per content), so the default
    comparison shows a change rather than "every check kept its verdict"; else the one before."""
    earlier = Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, pk__lt=after.pk)
    newest_first = held.filter(earlier).order_by("-created_at", "-id")
    return (
        newest_first.exclude(
            verdict_set_id=after.verdict_set_id, result_set_id=after.result_set_id
        ).first()
        or newest_first.first()
        # `to` is the oldest: compare it with the next one, which the swap puts after it.
        or held.exclude(pk=after.pk).order_by("created_at", "id").first()
    )


def evaluation_on(*, cluster: Cluster, day: date) -> int | None:
    """The id of the cluster's last evaluation at or before the end of `day` (site time zone);
    None when it has none that early."""
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    return (
        Evaluation.objects.for_cluster(cluster)
        .filter(created_at__lt=end)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )


def _held(held: QuerySet[Evaluation], evaluation_id: int) -> Evaluation:
    evaluation = held.filter(pk=evaluation_id).first()
    if evaluation is None:
        raise EvaluationNotHeld(evaluation_id)
    return evaluation


def evaluations_compare(*, pair: EvaluationPair) -> Comparison:
    """Everything the compare page shows, in a fixed number of queries (two)."""
    before, after = pair.before, pair.after
    statuses_before, statuses_after = before.statuses, after.statuses
    counts, unchanged = _object_counts(before.run.object_counts, after.run.object_counts)
    return Comparison(
        before=before,
        after=after,
        swapped=pair.swapped,
        score=Delta(before.score, after.score),
        coverage=Delta(before.coverage, after.coverage),
        areas=_area_deltas(before.area_scores, after.area_scores),
        version_before=before.run.kubernetes_version,
        version_after=after.run.kubernetes_version,
        object_counts=counts,
        unchanged_counts=unchanged,
        status_changes=capped(_status_changes(statuses_before, statuses_after)),
        # Findings follow what each check observed (raw), as the reconcile does.
        findings=_findings_diff(
            before, after, before.result_set.statuses, after.result_set.statuses
        ),
    )


def _area_deltas(before: dict[str, Any], after: dict[str, Any]) -> list[AreaDelta]:
    labels = {area.value: area.label for area in Area}
    keys = [*labels, *sorted(k for k in {*before, *after} if k not in labels)]
    rows = []
    for key in keys:
        old, new = (before.get(key) or {}).get("score"), (after.get(key) or {}).get("score")
        if old is None and new is None:
            continue
        rows.append(AreaDelta(old, new, key=key, label=labels.get(key, key or "Other checks")))
    return rows


def _object_counts(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[CountChange], int]:
    """Kinds whose count changed, and how many kinds did not."""

    def count(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    changed, unchanged = [], 0
    for kind in sorted({*before, *after}):
        old, new = count(before.get(kind)), count(after.get(kind))
        if old is None and new is None:
            continue
        if old == new:
            unchanged += 1
        else:
            changed.append(CountChange(kind, old, new))
    return changed, unchanged


def _check_facts(check_id: str) -> tuple[str, str, str]:
    """Title, area label and severity of a check; the id itself when the catalog lost it."""
    check = REGISTRY.get(check_id)
    if check is None:
        return check_id, "", Severity.INFO.value
    return check.title, check.area.label, check.severity.value


def _severity_rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def _status_changes(before: dict[str, str], after: dict[str, str]) -> list[StatusChange]:
    changes = []
    for check_id in {*before, *after}:
        old, new = before.get(check_id, ""), after.get(check_id, "")
        if old == new:
            continue
        title, area_label, severity = _check_facts(check_id)
        changes.append(StatusChange(check_id, title, area_label, severity, old, new))
    return sorted(
        changes,
        key=lambda c: (CHANGE_ORDER[c.kind], -_severity_rank(c.severity), c.title, c.check_id),
    )


def _failing_findings(evaluations: Iterable[Evaluation]) -> dict[int, dict[str, Observed]]:
    """Per evaluation, what observed_findings makes of its failing verdicts: one query for both."""
    wanted = {evaluation.pk: set(evaluation.result_set.result_ids) for evaluation in evaluations}
    rows = CheckResult.objects.filter(
        pk__in=set().union(*wanted.values()), status="fail"
    ).values_list("pk", "check_id", "affected")
    observed: dict[int, dict[str, Observed]] = {pk: {} for pk in wanted}
    for result_id, check_id, affected in rows:
        found = observed_findings(check_id, affected)
        for evaluation_id, result_ids in wanted.items():
            if result_id in result_ids:
                observed[evaluation_id].update(found)
    return observed


def _findings_diff(
    before: Evaluation,
    after: Evaluation,
    statuses_before: dict[str, str],
    statuses_after: dict[str, str],
) -> FindingsDiff:
    observed = _failing_findings([before, after])
    old, new = observed[before.pk], observed[after.pk]
    judged_in_both = {
        check_id
        for check_id in {*statuses_before, *statuses_after}
        if statuses_before.get(check_id) in OBSERVED and statuses_after.get(check_id) in OBSERVED
    }
    appeared = [seen for fp, seen in new.items() if fp not in old]
    gone = [seen for fp, seen in old.items() if fp not in new]
    not_comparable = [
        seen for seen in (*appeared, *gone) if seen.identity.check_id not in judged_in_both
    ]
    appeared = [seen for seen in appeared if seen.identity.check_id in judged_in_both]
    gone = [seen for seen in gone if seen.identity.check_id in judged_in_both]
    history = _finding_history(before.cluster_id, appeared) if appeared else {}
    new_rows, reopened_rows = [], []
    for seen in appeared:
        first_seen_at, times_reopened = history.get(seen.identity.fingerprint, (None, 0))
        row = _finding_row(seen, first_seen_at=first_seen_at, times_reopened=times_reopened)
        # Seen before `from` yet absent from it: it was fixed and has come back.
        if first_seen_at is not None and first_seen_at < before.created_at:
            reopened_rows.append(row)
        else:
            new_rows.append(row)
    return FindingsDiff(
        new=capped(_sorted(new_rows)),
        reopened=capped(_sorted(reopened_rows)),
        resolved=capped(_sorted([_finding_row(seen) for seen in gone])),
        still_open=sum(1 for fingerprint in new if fingerprint in old),
        not_comparable=len(not_comparable),
        not_comparable_checks=sorted(
            {_check_facts(seen.identity.check_id)[0] for seen in not_comparable}
        ),
    )


def _finding_history(cluster_id: int, appeared: list[Observed]) -> dict[str, tuple[datetime, int]]:
    """Fingerprint -> (first seen, times reopened) of the cluster's Finding rows, open or not.

    Filtered on check ids rather than fingerprints: a handful of parameters however large the
    diff, at the cost of reading those checks' other findings too.
    """
    rows = (
        Finding.objects.for_cluster(cluster_id)
        .filter(check_id__in={seen.identity.check_id for seen in appeared})
        .values_list("fingerprint", "first_seen_at", "times_reopened")
    )
    return {fingerprint: (first_seen_at, reopened) for fingerprint, first_seen_at, reopened in rows}


def _finding_row(
    seen: Observed, *, first_seen_at: datetime | None = None, times_reopened: int = 0
) -> FindingChange:
    identity = seen.identity
    return FindingChange(
        check_id=identity.check_id,
        title=_check_facts(identity.check_id)[0],
        severity=seen.severity,
        kind=identity.kind,
        namespace=identity.namespace,
        name=identity.name,
        field=identity.field,
        detail=seen.detail,
        first_seen_at=first_seen_at,
        times_reopened=times_reopened,
    )


def _sorted(rows: list[FindingChange]) -> list[FindingChange]:
    return sorted(
        rows,
        key=lambda r: (-_severity_rank(r.severity), r.title, r.namespace, r.kind, r.name, r.field),
    )
