"""Reads for regression detection: what a finished run, or a cluster left without fresh data,
has to say, as an Occasion and its regressions (the rules are alerts.regressions, pure).

Alerting costs what it sends, not what the collection wrote: the first collection of a cluster
is the baseline and reads no findings at all; a later one reads the findings that opened at or
above the severity floor as counts per check (one aggregate query) and the first
EVIDENCE_LIMIT of each check (one windowed query), never every row the evaluation opened.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import BooleanField, Case, Count, F, Value, When, Window
from django.db.models.functions import RowNumber

from alerts import expiry
from alerts.regressions import (
    EVIDENCE_LIMIT,
    Occasion,
    OccasionKind,
    OpenedFinding,
    OpenedFindings,
    Regression,
    RunOutcome,
    Snapshot,
    detect_evaluation,
    detect_failing_streak,
    rank,
    severities_meeting,
)
from clusters.models import CollectionRun
from posture.checks.base import REGISTRY
from posture.models import Evaluation, Finding

RUN_HISTORY = 50
UNREADABLE = ("forbidden", "error")


def snapshot(evaluation: Evaluation) -> Snapshot:
    run = evaluation.run
    return Snapshot(
        evaluation_id=evaluation.pk,
        score=evaluation.score,
        coverage=evaluation.coverage,
        statuses=evaluation.statuses,
        unreadable={
            kind: run.kind_errors.get(kind, status)
            for kind, status in (run.kind_status or {}).items()
            if status in UNREADABLE
        },
    )


def opened_findings(*, evaluation: Evaluation, min_severity: str) -> list[OpenedFindings]:
    """Findings this evaluation opened or reopened at or above `min_severity`, per check."""
    reopened = Case(
        When(first_seen_evaluation_id=evaluation.pk, then=Value(False)),
        default=Value(True),
        output_field=BooleanField(),
    )
    opened = Finding.objects.filter(
        opened_evaluation=evaluation, severity__in=severities_meeting(min_severity)
    ).annotate(reopened=reopened)
    totals: dict[tuple[str, bool], tuple[str, int]] = {}
    for check_id, severity, is_reopened, total in (
        opened.values_list("check_id", "severity", "reopened")
        .annotate(total=Count("id"))
        .order_by()
    ):
        # A check whose severity changed between catalog versions: its most severe counts.
        known_severity, known_total = totals.get((check_id, is_reopened), (severity, 0))
        totals[(check_id, is_reopened)] = (
            max(known_severity, severity, key=rank),
            known_total + total,
        )
    if not totals:
        return []
    sample: dict[tuple[str, bool], list[OpenedFinding]] = {}
    first = opened.annotate(
        position=Window(
            RowNumber(),
            partition_by=[F("check_id"), reopened],
            order_by=[F("namespace"), F("kind"), F("name"), F("id")],
        )
    ).filter(position__lte=EVIDENCE_LIMIT)
    for check_id, is_reopened, kind, namespace, name, detail in first.values_list(
        "check_id", "reopened", "kind", "namespace", "name", "detail"
    ).order_by("check_id", "position"):
        sample.setdefault((check_id, is_reopened), []).append(
            OpenedFinding(kind, namespace, name, detail)
        )
    return [
        OpenedFindings(check_id, severity, is_reopened, total, tuple(sample.get(key, ())))
        for key, (severity, total) in totals.items()
        for check_id, is_reopened in (key,)
    ]


def regressions_for_evaluation(*, evaluation: Evaluation) -> tuple[Occasion, list[Regression]]:
    """The collection's occasion; its regressions against the previous evaluation, and the
    cluster's waivers and attestations expiring (those already told are dropped when
    recording)."""
    previous = (
        Evaluation.objects.for_cluster(evaluation.cluster_id)
        .filter(created_at__lte=evaluation.created_at)
        .exclude(pk=evaluation.pk)
        .select_related("run", "verdict_set")
        .first()
    )
    occasion = Occasion(
        OccasionKind.COLLECTION,
        evaluation.cluster_id,
        evaluation.cluster.name,
        f"cluster:{evaluation.cluster_id}:evaluation:{evaluation.pk}",
        at=evaluation.created_at,
        score=(previous.score if previous else None, evaluation.score),
        coverage=(previous.coverage if previous else None, evaluation.coverage),
        evaluations=(previous.pk, evaluation.pk) if previous else None,
    )
    regressions: list[Regression] = []
    if previous is not None:  # else the baseline: nothing is news, so nothing is read
        min_severity = settings.RAMPART_ALERT_MIN_SEVERITY
        opened = opened_findings(evaluation=evaluation, min_severity=min_severity)
        regressions = detect_evaluation(
            cluster_id=evaluation.cluster_id,
            cluster_name=evaluation.cluster.name,
            previous=snapshot(previous),
            current=snapshot(evaluation),
            opened=opened,
            check_titles={
                group.check_id: REGISTRY[group.check_id].title
                for group in opened
                if group.check_id in REGISTRY
            },
            min_severity=min_severity,
            score_drop=settings.RAMPART_ALERT_SCORE_DROP,
            cluster_severity=settings.RAMPART_ALERT_CLUSTER_SEVERITY,
        )
    regressions += expiry.expiry_regressions(
        cluster_ids=[evaluation.cluster_id], now=evaluation.created_at
    ).get(evaluation.cluster_id, [])
    return occasion, regressions


def regressions_for_run(*, run: CollectionRun) -> tuple[Occasion | None, list[Regression]]:
    """A failed run: the streak of failures it extends, if long enough. A finished one: its
    evaluation's occasion."""
    if run.status == CollectionRun.Status.FAILED:
        history = (
            CollectionRun.objects.filter(cluster_id=run.cluster_id, created_at__lte=run.created_at)
            .exclude(status__in=CollectionRun.ACTIVE_STATUSES)
            .values_list("pk", "status", "last_error")
        )
        streak = detect_failing_streak(
            cluster_id=run.cluster_id,
            cluster_name=run.cluster.name,
            runs=[RunOutcome(*row) for row in history[:RUN_HISTORY]],
            threshold=settings.RAMPART_ALERT_FAILED_RUNS,
            severity=settings.RAMPART_ALERT_CLUSTER_SEVERITY,
        )
        if streak is None:
            return None, []
        # The streak is the occasion: its later failures find it again and email nobody.
        return occasion_of(streak, OccasionKind.COLLECTIONS_FAILING, at=run.finished_at), [streak]
    evaluation = (
        Evaluation.objects.filter(run=run).select_related("cluster", "run", "verdict_set").first()
    )
    if evaluation is None:
        return None, []
    return regressions_for_evaluation(evaluation=evaluation)


def occasion_of(
    regression: Regression, kind: OccasionKind, *, at: datetime | None = None
) -> Occasion:
    """An occasion that is one regression (a streak, stale data): keyed as the regression."""
    return Occasion(
        kind, regression.cluster_id, regression.cluster_name, regression.dedup_key, at=at
    )
