"""Read side of the history app: one cluster's trend and the fleet's, ready to render.

Each function runs a small, fixed number of queries whatever the fleet's size or the period:
`values_list` over the daily rollups, one query per set of series, never one per cluster or per
day. It returns dataclasses holding the charts' SVG (drawn by `charts`, which escapes every
label, so the markup is marked safe here) and the rows of the data table under each chart.

A day without a rollup is a gap (None) in every series, never a zero: a cluster that was not
collected is unknown that day, not perfect and not empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from charts import (
    Marker,
)
from clusters.models import Cluster
from compliance.models import Waiver
from history.trend_charts import (
    GAP,
    Chart,
    days_between,
    duration_text,
    findings_chart,
    flow_chart,
    line_table_chart,
    percent_text,
)
from posture.checks.base import Area, Severity
from posture.models import ClusterDay, Finding, FindingQuerySet, fix_summary

# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """How far back a trend page looks: the last `days` days up to and including today."""

    key: str
    label: str
    days: int

    @property
    def weekly_tables(self) -> bool:
        """A year of daily rows would dwarf the page: tables summarise by week instead."""
        return self.days > 90

    @property
    def weekly_bars(self) -> bool:
        """Daily bars thinner than a few pixels say nothing: group by week past a month."""
        return self.days > 30

    def bounds(self, today: date) -> tuple[date, date]:
        return today - timedelta(days=self.days - 1), today


PERIODS: dict[str, Period] = {
    period.key: period
    for period in (
        Period("30d", "30 days", 30),
        Period("90d", "90 days", 90),
        Period("1y", "1 year", 365),
    )
}
DEFAULT_PERIOD = "90d"


def period_get(key: str | None) -> Period:
    """The period named by `?range=`; anything unknown is the default."""
    return PERIODS.get(key or "", PERIODS[DEFAULT_PERIOD])


@dataclass(frozen=True)
class FixRow:
    """Time to fix one severity, with what is still open."""

    severity: str
    label: str
    open: int
    oldest_open: str
    fixed: int
    average: str
    longest: str


@dataclass(frozen=True)
class ClusterTrend:
    period: Period
    start: date
    end: date
    has_history: bool  # any rollup at all, in this period or before it
    days_with_data: int
    latest_score: float | None
    score_change: float | None  # latest minus first scored day of the period
    score: Chart
    areas: Chart
    coverage: Chart
    findings: Chart
    flow: Chart
    events: tuple[Marker, ...]
    fixes: tuple[FixRow, ...]


# --- time to fix -----------------------------------------------------------------------------


def fix_rows(findings: FindingQuerySet, *, now: datetime) -> tuple[FixRow, ...]:
    """Per severity: fixed episodes and how long they took, and what is still open (2 queries)."""
    return fix_rows_from(fix_summary(findings), now=now)


def fix_rows_from(summary: Mapping[str, Mapping[str, Any]], *, now: datetime) -> tuple[FixRow, ...]:
    """The time-to-fix table from a `fix_summary` (computed now, or kept on a FleetDay)."""
    order = {severity.value: -severity.rank for severity in Severity}
    rows = []
    for severity in sorted(summary, key=lambda s: (order.get(s, 1), s)):
        entry = summary[severity]
        oldest = entry.get("oldest_open_at")
        rows.append(
            FixRow(
                severity=severity,
                label=severity.capitalize(),
                open=int(entry.get("open") or 0),
                oldest_open=duration_text(now - datetime.fromisoformat(oldest)) if oldest else GAP,
                fixed=int(entry.get("fixed") or 0),
                average=_seconds_text(entry.get("average_seconds")),
                longest=_seconds_text(entry.get("longest_seconds")),
            )
        )
    return tuple(rows)


def _seconds_text(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return GAP
    return duration_text(timedelta(seconds=seconds))


# --- one cluster -------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _upgrade_markers(versions: Iterable[tuple[date, str]], previous: str | None) -> list[Marker]:
    """A marker wherever the Kubernetes version differs from the last one seen before it."""
    markers = []
    for day, version in versions:
        if version and previous and version != previous:
            older, newer = _version_key(previous), _version_key(version)
            verb = "Upgraded" if newer > older else "Downgraded" if newer < older else "Changed"
            markers.append(Marker(day, f"{verb} to {version}", "upgrade"))
        previous = version or previous
    return markers


def _waiver_markers(cluster: Cluster, start: date, end: date, now: datetime) -> list[Marker]:
    """Waivers approved, revoked or expired in [start, end] (one query)."""
    since = timezone.make_aware(datetime.combine(start, time.min))
    until = min(now, timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)))
    rows = (
        Waiver.objects.for_cluster(cluster)
        .filter(
            Q(approved_at__gte=since, approved_at__lt=until)
            | Q(revoked_at__gte=since, revoked_at__lt=until)
            | Q(approved_at__isnull=False, expires_at__gte=since, expires_at__lt=until)
        )
        .values_list("check_id", "approved_at", "revoked_at", "expires_at")
    )
    markers = []
    for check_id, approved_at, revoked_at, expires_at in rows:
        if approved_at and since <= approved_at < until:
            markers.append(
                Marker(timezone.localdate(approved_at), f"Waiver approved: {check_id}", "waiver")
            )
        if revoked_at and since <= revoked_at < until:
            markers.append(
                Marker(timezone.localdate(revoked_at), f"Waiver revoked: {check_id}", "waiver")
            )
        ran_out = approved_at and (revoked_at is None or revoked_at > expires_at)
        if ran_out and since <= expires_at < until:
            markers.append(
                Marker(timezone.localdate(expires_at), f"Waiver expired: {check_id}", "waiver")
            )
    return markers


def _area_score(entry: object) -> float | None:
    """An area's score from `area_scores`: a tally dict with "score", or a bare number."""
    value = entry.get("score") if isinstance(entry, dict) else entry
    return float(value) if isinstance(value, int | float) else None


def cluster_trend(*, cluster: Cluster, period: Period, now: datetime | None = None) -> ClusterTrend:
    """The cluster's daily rollups over `period`, with upgrades and waivers as markers.

    Queries: the period's rollups, the last version before it, the waivers, time to fix (2).
    """
    now = now or timezone.now()
    start, end = period.bounds(timezone.localdate(now))
    days = days_between(start, end)
    rows = list(
        ClusterDay.objects.for_cluster(cluster)
        .between(start, end)
        .order_by("day")
        .values_list(
            "day",
            "score",
            "coverage",
            "area_scores",
            "open_findings",
            "opened",
            "resolved",
            "kubernetes_version",
        )
    )
    # The last version before the period: an upgrade on its first day is still an upgrade.
    earlier = (
        ClusterDay.objects.for_cluster(cluster)
        .filter(day__lt=start)
        .order_by("-day")
        .values_list("kubernetes_version", flat=True)
        .first()
    )
    events = sorted(
        _upgrade_markers(((row[0], row[7]) for row in rows), earlier)
        + _waiver_markers(cluster, start, end, now),
        key=lambda marker: (marker.at, marker.label),
    )
    weekly = period.weekly_tables
    overall = {day: score for day, score, *_ in rows}
    areas = [
        (
            area.label,
            f"series-{area.value}",
            {row[0]: _area_score((row[3] or {}).get(area.value)) for row in rows},
        )
        for area in Area
    ]
    scored = [(day, score) for day, score in overall.items() if score is not None]
    return ClusterTrend(
        period=period,
        start=start,
        end=end,
        has_history=bool(rows) or earlier is not None,
        days_with_data=len(rows),
        latest_score=scored[-1][1] if scored else None,
        score_change=round(scored[-1][1] - scored[0][1], 1) if len(scored) > 1 else None,
        score=line_table_chart(
            title=f"{cluster.name}: score",
            chart_id="trend-score",
            days=days,
            series=[("Score", "series-overall", overall)],
            y_label="Score",
            markers=events,
            weekly=weekly,
        ),
        areas=line_table_chart(
            title=f"{cluster.name}: score by area",
            chart_id="trend-areas",
            days=days,
            series=areas,
            y_label="Score",
            markers=events,
            weekly=weekly,
        ),
        coverage=line_table_chart(
            title=f"{cluster.name}: coverage",
            chart_id="trend-coverage",
            days=days,
            series=[("Coverage", "series-coverage", {row[0]: row[2] for row in rows})],
            y_label="Coverage %",
            formats=percent_text,
            weekly=weekly,
        ),
        findings=findings_chart(
            title=f"{cluster.name}: open findings by severity",
            chart_id="trend-findings",
            days=days,
            counts={row[0]: row[4] or {} for row in rows},
            weekly=weekly,
        ),
        flow=flow_chart(
            title=f"{cluster.name}: findings opened and resolved",
            chart_id="trend-flow",
            days=days,
            flow={row[0]: (row[5], row[6]) for row in rows},
            weekly=period.weekly_bars,
        ),
        events=tuple(events),
        fixes=fix_rows(Finding.objects.for_cluster(cluster), now=now),
    )
