"""Read side of the fleet trend page: the fleet (or one environment) over a period.

The series come from FleetDay rows (one per day for the fleet and one per environment), the
movers from one query over the (cluster, day) index: a fixed number of queries at any size.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.safestring import SafeString

from charts import (
    Bar,
    bar_chart,
)
from clusters.models import Cluster
from history.trend_charts import (
    BANDS,
    HEIGHT,
    WIDTH,
    Chart,
    Row,
    band_class,
    days_between,
    findings_chart,
    flow_chart,
    line_table_chart,
    percent_text,
    safe_svg,
)
from history.trends import FixRow, Period, fix_rows, fix_rows_from
from posture.models import ClusterDay, Finding, FindingQuerySet, FleetDay

MOVERS_SHOWN = 10
MOVER_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Snapshot:
    """The fleet on its latest day: counts, centre and the score histogram."""

    day: date | None
    clusters: int
    scored: int
    mean: float | None
    median: float | None
    distribution: Mapping[str, int]


@dataclass(frozen=True)
class Mover:
    name: str
    environment: str
    before: float
    before_day: date
    after: float
    after_day: date
    change: float


@dataclass(frozen=True)
class FleetTrend:
    period: Period
    start: date
    end: date
    environment: str
    has_history: bool
    snapshot: Snapshot
    score: Chart
    distribution: Chart
    coverage: Chart
    findings: Chart
    flow: Chart
    movers_chart: SafeString
    movers: tuple[Mover, ...]
    fixes: tuple[FixRow, ...]


# --- the fleet ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FleetPoint:
    day: date
    clusters: int
    mean: float | None
    median: float | None
    p10: float | None
    p90: float | None
    coverage: float | None
    open_findings: Mapping[str, Any]
    opened: int
    resolved: int


def _fleet_points(environment: str, start: date, end: date) -> list[_FleetPoint]:
    """The fleet's (or one environment's) days, as the FleetDay rows recorded them."""
    rows = (
        FleetDay.objects.filter(environment=environment, day__gte=start, day__lte=end)
        .order_by("day")
        .values_list(
            "day",
            "clusters",
            "mean_score",
            "median_score",
            "p10_score",
            "p90_score",
            "mean_coverage",
            "open_findings",
            "opened",
            "resolved",
        )
    )
    return [_FleetPoint(*row) for row in rows]


def _distribution(scores: Sequence[float], clusters: int) -> dict[str, int]:
    """Clusters per 10-point band, as FleetDay.distribution counts them."""
    counts = {key: 0 for key, _ in BANDS}
    counts["none"] = clusters - len(scores)
    for score in scores:
        counts[str(min(int(score // 10) * 10, 90))] += 1
    return counts


@dataclass(frozen=True, slots=True)
class _Week:
    """One cluster's latest rollup of the past week, and its latest scored one a week before."""

    name: str
    environment: str
    day: date
    score: float | None
    before_day: date | None
    before: float | None


def _weeks(environment: str, today: date) -> list[_Week]:
    """Every cluster with a rollup in the past week, in one query.

    Four correlated subqueries per cluster, each a seek on the (cluster, day) unique index:
    the cost follows the number of clusters, never the length of their history.
    """

    def newest(since: date, until: date) -> QuerySet[ClusterDay]:
        return ClusterDay.objects.filter(
            cluster=OuterRef("pk"), day__gt=since, day__lte=until
        ).order_by("-day")

    recent = newest(today - MOVER_WINDOW, today)
    before = newest(today - 2 * MOVER_WINDOW, today - MOVER_WINDOW).filter(score__isnull=False)
    clusters = Cluster.objects.all()
    if environment:
        clusters = clusters.filter(environment=environment)
    rows = (
        clusters.annotate(
            latest_day=Subquery(recent.values("day")[:1]),
            latest_score=Subquery(recent.values("score")[:1]),
            before_day=Subquery(before.values("day")[:1]),
            before_score=Subquery(before.values("score")[:1]),
        )
        .values_list(
            "name", "environment", "latest_day", "latest_score", "before_day", "before_score"
        )
        .order_by()
    )
    return [_Week(*row) for row in rows if row[2] is not None]


def _movers(weeks: Iterable[_Week]) -> tuple[Mover, ...]:
    """The clusters whose score fell most between a week ago and their latest rollup."""
    movers = [
        Mover(
            week.name,
            week.environment,
            week.before,
            week.before_day,
            week.score,
            week.day,
            week.score - week.before,
        )
        for week in weeks
        if week.score is not None
        and week.before is not None
        and week.before_day is not None
        and week.score < week.before
    ]
    movers.sort(key=lambda mover: (mover.change, mover.name))
    return tuple(movers[:MOVERS_SHOWN])


def _snapshot(
    latest_fleet_day: tuple[date, int, int, float | None, float | None, dict[str, int]] | None,
    weeks: Sequence[_Week],
) -> Snapshot:
    """The latest FleetDay when there is one; else the clusters' latest rollups of the week."""
    if latest_fleet_day is not None:
        day, clusters, scored, mean, median, distribution = latest_fleet_day
        return Snapshot(day, clusters, scored, mean, median, distribution or {})
    scores = sorted(week.score for week in weeks if week.score is not None)
    return Snapshot(
        day=max((week.day for week in weeks), default=None),
        clusters=len(weeks),
        scored=len(scores),
        mean=round(statistics.fmean(scores), 2) if scores else None,
        median=round(statistics.median(scores), 2) if scores else None,
        distribution=_distribution(scores, len(weeks)),
    )


def _clusters(count: int) -> str:
    return f"{count} cluster{'' if count == 1 else 's'}"


def _distribution_chart(snapshot: Snapshot, title: str) -> Chart:
    counts = snapshot.distribution
    bars = [
        Bar(
            label,
            counts.get(key, 0),
            band_class(int(key)),
            f"{_clusters(counts.get(key, 0))} scored {label}",
        )
        for key, label in BANDS
    ]
    unscored = counts.get("none", 0)
    bars.append(Bar("No score", unscored, "score-none", f"{_clusters(unscored)} without a score"))
    svg = bar_chart(
        title=title,
        bars=bars if snapshot.clusters else [],
        width=WIDTH,
        height=HEIGHT,
        value_label="Clusters",
        chart_id="fleet-distribution",
    )
    return Chart(
        svg=safe_svg(svg),
        caption=title,
        headers=("Score", "Clusters"),
        rows=tuple(Row(bar.label, (str(int(bar.value)),)) for bar in bars),
    )


def _movers_chart(movers: Sequence[Mover], title: str) -> SafeString:
    bars = [
        Bar(
            mover.name,
            round(mover.change, 1),
            title=f"{mover.name}: {mover.before:.1f} on {mover.before_day.isoformat()} "
            f"to {mover.after:.1f} on {mover.after_day.isoformat()} ({mover.change:+.1f})",
        )
        for mover in movers
    ]
    return safe_svg(
        bar_chart(
            title=title,
            bars=bars,
            orientation="horizontal",
            width=WIDTH,
            value_label="Score change",
            chart_id="fleet-movers",
        )
    )


def fleet_trend(
    *, period: Period, environment: str = "", now: datetime | None = None
) -> FleetTrend:
    """The fleet (or one environment) over `period`, its distribution today and worst movers.

    Queries: the series and the latest day (FleetDay rows of the scope), one for the week's
    movers; two for time to fix only when today's FleetDay is not there yet.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    start, end = period.bounds(today)
    days = days_between(start, end)
    points = _fleet_points(environment, start, end)
    latest_fleet_day = (
        FleetDay.objects.filter(environment=environment, day__lte=today)
        .order_by("-day")
        .values_list(
            "day",
            "clusters",
            "scored",
            "mean_score",
            "median_score",
            "distribution",
            "time_to_fix",
        )
        .first()
    )
    weeks = _weeks(environment, today)
    snapshot = _snapshot(latest_fleet_day[:6] if latest_fleet_day else None, weeks)
    movers = _movers(weeks)
    weekly = period.weekly_tables
    scope = f"environment {environment}" if environment else "whole fleet"
    by_day = {point.day: point for point in points}
    score_series: list[tuple[str, str, Mapping[date, float | None]]] = [
        ("Mean", "series-mean", {day: p.mean for day, p in by_day.items()}),
        ("Median", "series-median", {day: p.median for day, p in by_day.items()}),
        ("10th percentile", "series-p10", {day: p.p10 for day, p in by_day.items()}),
        ("90th percentile", "series-p90", {day: p.p90 for day, p in by_day.items()}),
    ]
    findings: FindingQuerySet = Finding.objects.all()
    if environment:
        findings = findings.filter(cluster__environment=environment)
    return FleetTrend(
        period=period,
        start=start,
        end=end,
        environment=environment,
        has_history=bool(points) or snapshot.clusters > 0,
        snapshot=snapshot,
        score=line_table_chart(
            title=f"Score, {scope}",
            chart_id="fleet-score",
            days=days,
            series=score_series,
            y_label="Score",
            weekly=weekly,
            extra=[("Clusters", {day: p.clusters for day, p in by_day.items()})],
        ),
        distribution=_distribution_chart(snapshot, f"Clusters by score, {scope}"),
        coverage=line_table_chart(
            title=f"Mean coverage, {scope}",
            chart_id="fleet-coverage",
            days=days,
            series=[
                ("Mean coverage", "series-coverage", {day: p.coverage for day, p in by_day.items()})
            ],
            y_label="Coverage %",
            formats=percent_text,
            weekly=weekly,
        ),
        findings=findings_chart(
            title=f"Open findings by severity, {scope}",
            chart_id="fleet-findings",
            days=days,
            counts={day: p.open_findings or {} for day, p in by_day.items()},
            weekly=weekly,
        ),
        flow=flow_chart(
            title=f"Findings opened and resolved, {scope}",
            chart_id="fleet-flow",
            days=days,
            flow={day: (p.opened, p.resolved) for day, p in by_day.items()},
            weekly=period.weekly_bars,
        ),
        movers_chart=_movers_chart(movers, f"Largest score drops this week, {scope}"),
        movers=movers,
        # Today's FleetDay keeps the scope's time to fix (refreshed every 15 minutes): over
        # every finding of the fleet it is the page's slowest part (64 ms at 1,000 clusters).
        fixes=fix_rows_from(latest_fleet_day[6], now=now)
        if latest_fleet_day and latest_fleet_day[0] == today
        else fix_rows(findings, now=now),
    )
