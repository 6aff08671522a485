"""What counts as a regression: pure functions over snapshots, no database, no settings.

    new / reopened findings  one regression per check and kind, with the check's severity;
                             `now_failing` when the check passed in the previous evaluation
    score drop               the overall score fell by at least N points
    coverage drop            kinds that were readable are now forbidden or failing
    collections failing      the last K runs failed (one regression per streak)
    data stale               the newest evaluation is older than T hours (one per evaluation)
    waiver / attestation     expires within 7 days, or expired in the last 2 days (one of each
                             per waiver or attestation and expiry date; expiry_rules.py)

Every regression has a severity, and the severity floor (RAMPART_ALERT_MIN_SEVERITY) and each
subscriber's threshold apply to all of them alike (services.notifications_record): findings
carry their check's, an expiry the waived check's, and the regressions about the cluster as a
whole (score, coverage, failed or stale collections) the configured cluster severity.

Every regression carries a dedup key naming the occurrence (the evaluation, the first failed
run of a streak, ...): recomputing it for the same facts gives the same key, which is what makes
"each regression told to each recipient once" enforceable by a unique constraint. The
regressions of one occasion (a collection, a streak, a scan) travel in one email: `Occasion`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from posture.checks.base import Severity

EVIDENCE_LIMIT = 50  # objects listed per regression; the email links to the full list


class Kind(StrEnum):
    NEW_FINDINGS = "new_findings"
    REOPENED_FINDINGS = "reopened_findings"
    CHECK_FAILING = "check_failing"
    SCORE_DROP = "score_drop"
    COVERAGE_DROP = "coverage_drop"
    COLLECTIONS_FAILING = "collections_failing"
    DATA_STALE = "data_stale"
    WAIVER_EXPIRING = "waiver_expiring"
    WAIVER_EXPIRED = "waiver_expired"
    ATTESTATION_EXPIRING = "attestation_expiring"
    ATTESTATION_EXPIRED = "attestation_expired"

    @property
    def label(self) -> str:
        return {
            "new_findings": "New findings",
            "reopened_findings": "Reopened findings",
            "check_failing": "Check now failing",
            "score_drop": "Score drop",
            "coverage_drop": "Coverage drop",
            "collections_failing": "Collections failing",
            "data_stale": "Data out of date",
            "waiver_expiring": "Waiver about to expire",
            "waiver_expired": "Waiver expired",
            "attestation_expiring": "Attestation about to expire",
            "attestation_expired": "Attestation expired",
        }[self.value]


# Kinds about one failing check: the email lists their objects, grouped by check.
# (CHECK_FAILING is no longer detected: its findings are new or reopened, `now_failing`; it stays
# for the notifications recorded before.)
FINDING_KINDS = frozenset({Kind.NEW_FINDINGS, Kind.REOPENED_FINDINGS, Kind.CHECK_FAILING})
# Kinds about the cluster as a whole, carrying the configured cluster severity.
CLUSTER_KINDS = frozenset(
    {Kind.SCORE_DROP, Kind.COVERAGE_DROP, Kind.COLLECTIONS_FAILING, Kind.DATA_STALE}
)
GOVERNANCE_KINDS = frozenset(
    {
        Kind.WAIVER_EXPIRING,
        Kind.WAIVER_EXPIRED,
        Kind.ATTESTATION_EXPIRING,
        Kind.ATTESTATION_EXPIRED,
    }
)


class OccasionKind(StrEnum):
    """What one email is about; the notification log shows the label."""

    COLLECTION = "collection"
    COLLECTIONS_FAILING = "collections_failing"
    DATA_STALE = "data_stale"
    EXPIRIES = "expiries"

    @property
    def label(self) -> str:
        return {
            "collection": "Collection alerts",
            "collections_failing": "Collections failing",
            "data_stale": "Data out of date",
            "expiries": "Expiring waivers and attestations",
        }[self.value]


@dataclass(frozen=True)
class Occasion:
    """One collection of a cluster, one streak of failed collections, one scan: what one email
    to each recipient is about. `key` is that email's dedup key.

    A collection's occasion carries the scores and coverage before and after, and the two
    evaluations, so the email can say what changed and link to the comparison.
    """

    kind: OccasionKind
    cluster_id: int
    cluster_name: str
    key: str
    at: datetime | None = None
    score: tuple[float | None, float | None] = (None, None)  # (previous, current)
    coverage: tuple[float | None, float | None] = (None, None)
    evaluations: tuple[int, int] | None = None  # (previous, current): the compare page


@dataclass(frozen=True)
class Snapshot:
    """What regression detection needs of one evaluation."""

    evaluation_id: int
    score: float | None
    coverage: float
    statuses: dict[str, str]  # check id -> pass/fail/unknown/...
    # Resource kinds the collector could not read (forbidden or error) -> the error text.
    unreadable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenedFinding:
    """One finding that opened (new) or reopened in the current evaluation: its owning
    workload (kind, namespace, name) and what is wrong with it."""

    kind: str
    namespace: str
    name: str
    detail: str

    def as_evidence(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class OpenedFindings:
    """The findings of one check that opened, or reopened, in the current evaluation: how many,
    and the first few (the email lists those and links to the check page for the rest)."""

    check_id: str
    severity: str
    reopened: bool
    total: int
    sample: tuple[OpenedFinding, ...] = ()


@dataclass(frozen=True)
class Regression:
    kind: Kind
    cluster_id: int
    cluster_name: str
    severity: str
    dedup_key: str
    title: str  # one line: becomes the email's subject after the cluster name
    summary: str
    check_id: str = ""
    evidence: tuple[dict[str, str], ...] = ()
    evidence_total: int = 0
    # Labelled lines the email shows as they are ("Expires", "2025-01-08 14:00 UTC"), for the
    # regressions about one object rather than a list of affected ones.
    facts: tuple[tuple[str, str], ...] = ()
    link: str = ""  # a site-relative path to the object the regression is about
    link_label: str = ""
    check_title: str = ""
    now_failing: bool = False  # findings of a check that passed in the previous evaluation

    def as_payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "kind_label": self.kind.label,
            "cluster": self.cluster_name,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "check_id": self.check_id,
            "check_title": self.check_title,
            "now_failing": self.now_failing,
            "evidence": list(self.evidence),
            "evidence_total": self.evidence_total,
            "facts": [list(fact) for fact in self.facts],
            "link": self.link,
            "link_label": self.link_label,
        }


def rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return 0


def meets(severity: str, threshold: str) -> bool:
    """Whether a regression of `severity` clears `threshold` ("" clears everything)."""
    return not threshold or rank(severity) >= rank(threshold)


def severities_meeting(threshold: str) -> list[str]:
    return [severity.value for severity in Severity if meets(severity.value, threshold)]


def detect_evaluation(
    *,
    cluster_id: int,
    cluster_name: str,
    previous: Snapshot | None,
    current: Snapshot,
    opened: Iterable[OpenedFindings],
    check_titles: dict[str, str],
    min_severity: str,
    score_drop: float,
    cluster_severity: str,
) -> list[Regression]:
    """Regressions between two consecutive evaluations of one cluster.

    The first evaluation is the baseline: what a newly registered cluster already has wrong is
    on its dashboard, not news, so nothing is a regression until there is a previous one.
    Findings below `min_severity` are left out here already (the caller need not read them);
    the floor itself is applied to every kind when recording.
    """
    if previous is None:
        return []
    regressions: list[Regression] = []
    key = f"cluster:{cluster_id}:evaluation:{current.evaluation_id}"
    for group in sorted(opened, key=lambda g: (-rank(g.severity), g.check_id, g.reopened)):
        if not meets(group.severity, min_severity) or group.total < 1:
            continue
        title = check_titles.get(group.check_id, group.check_id)
        kind, word = (
            (Kind.REOPENED_FINDINGS, "reopened") if group.reopened else (Kind.NEW_FINDINGS, "new")
        )
        now_failing = previous.statuses.get(group.check_id) == "pass"
        summary = f"{group.check_id} ({group.severity}) fails on {group.total} {word} object(s)"
        regressions.append(
            Regression(
                kind,
                cluster_id,
                cluster_name,
                group.severity,
                f"{key}:{kind.value}:{group.check_id}",
                f"{group.total} {word} {group.severity} finding(s): {title}",
                summary + ("; it passed in the previous collection." if now_failing else "."),
                group.check_id,
                tuple(finding.as_evidence() for finding in group.sample[:EVIDENCE_LIMIT]),
                group.total,
                check_title=title,
                now_failing=now_failing,
            )
        )
    regressions.extend(
        _score_and_coverage(
            key, cluster_id, cluster_name, previous, current, score_drop, cluster_severity
        )
    )
    return regressions


def _score_and_coverage(
    key: str,
    cluster_id: int,
    cluster_name: str,
    previous: Snapshot,
    current: Snapshot,
    score_drop: float,
    severity: str,
) -> list[Regression]:
    regressions = []
    if (
        previous.score is not None
        and current.score is not None
        and previous.score - current.score >= score_drop
    ):
        regressions.append(
            Regression(
                Kind.SCORE_DROP,
                cluster_id,
                cluster_name,
                severity,
                f"{key}:score-drop",
                f"score fell from {previous.score:.1f} to {current.score:.1f}",
                f"The overall score dropped by {previous.score - current.score:.1f} points "
                f"(threshold {score_drop:g}).",
            )
        )
    lost = {
        kind: error for kind, error in current.unreadable.items() if kind not in previous.unreadable
    }
    if lost:
        now_unknown = sorted(
            check_id
            for check_id, status in current.statuses.items()
            if status == "unknown" and previous.statuses.get(check_id) in ("pass", "fail")
        )
        evidence = tuple(
            {"kind": kind, "namespace": "", "name": "", "detail": error or "not readable"}
            for kind, error in sorted(lost.items())
        )
        regressions.append(
            Regression(
                Kind.COVERAGE_DROP,
                cluster_id,
                cluster_name,
                severity,
                f"{key}:coverage-drop",
                f"coverage fell from {previous.coverage:.1f}% to {current.coverage:.1f}%",
                f"The collector can no longer read {', '.join(sorted(lost))}; "
                f"{len(now_unknown)} check(s) became unknown"
                + (f": {', '.join(now_unknown[:10])}" if now_unknown else "")
                + ".",
                "",
                evidence,
                len(evidence),
            )
        )
    return regressions


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    status: str
    error: str = ""


def detect_failing_streak(
    *,
    cluster_id: int,
    cluster_name: str,
    runs: Sequence[RunOutcome],
    threshold: int,
    severity: str,
) -> Regression | None:
    """`runs` newest first. One regression per streak of >= threshold failed runs."""
    streak = []
    for run in runs:
        if run.status != "failed":
            break
        streak.append(run)
    if threshold < 1 or len(streak) < threshold:
        return None
    # The dedup key names the streak's first run, so callers pass enough history to reach it
    # (services.RUN_HISTORY); a longer streak than that only means one more email.
    first = streak[-1]
    return Regression(
        Kind.COLLECTIONS_FAILING,
        cluster_id,
        cluster_name,
        severity,
        f"cluster:{cluster_id}:failed-runs-since:{first.run_id}",
        f"{len(streak)} collections in a row failed",
        f"The last {len(streak)} collections failed; the dashboard shows data from before. "
        f"Latest error: {streak[0].error[:300] or 'none recorded'}",
        "",
        tuple(
            {
                "kind": "CollectionRun",
                "namespace": "",
                "name": f"#{run.run_id}",
                "detail": run.error[:300],
            }
            for run in streak[:EVIDENCE_LIMIT]
        ),
        len(streak),
    )


def detect_stale(
    *,
    cluster_id: int,
    cluster_name: str,
    evaluation_id: int | None,
    age_hours: float | None,
    threshold_hours: int,
    severity: str,
) -> Regression | None:
    """Data older than the threshold (or never collected): one regression per evaluation."""
    if age_hours is not None and age_hours < threshold_hours:
        return None
    when = "never" if age_hours is None else f"{age_hours:.0f} hours ago"
    return Regression(
        Kind.DATA_STALE,
        cluster_id,
        cluster_name,
        severity,
        f"cluster:{cluster_id}:stale-since-evaluation:{evaluation_id or 'none'}",
        f"no fresh data for {threshold_hours} hours",
        f"The newest completed collection was {when}; the threshold is {threshold_hours} hours.",
    )
