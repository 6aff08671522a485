"""Tables and charts shared by the trend pages: formatting, day and week tables, series.

Charts are drawn by `charts`, which escapes every label, so the markup is marked safe here.
A day without a rollup is a gap (None), never a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from charts import (
    SEVERITY_CATEGORIES,
    Bucket,
    Category,
    Marker,
    Point,
    Series,
    grouped_bar_chart,
    line_chart,
    stacked_area_chart,
)

GAP = "—"
# The pixels of a chart card at full width (1200 px of content less padding); the SVG scales to
# its card (width 100 %), so this sets the aspect ratio and the size of its text there.
WIDTH = 1120
HEIGHT = 300
INFO = Category("info", "Info", "sev-info")
FLOW_CATEGORIES = (
    Category("opened", "Opened", "series-opened"),
    Category("resolved", "Resolved", "series-resolved"),
)
# The score bands of the badges (clusters/_score.html): 90 and up good, 70 and up fair.
BANDS = [(str(low), f"{low}\u2013{low + 9 if low < 90 else 100}") for low in range(0, 100, 10)]


def band_class(low: int) -> str:
    return "score-good" if low >= 90 else "score-fair" if low >= 70 else "score-poor"


# --- what the templates receive --------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a chart's data table: `at` for a day or week, else just a label."""

    label: str
    cells: tuple[str, ...]
    at: date | None = None

    @property
    def iso(self) -> str:
        return self.at.isoformat() if self.at else ""

    @property
    def cells_html(self) -> SafeString:
        # Joined here rather than by a nested {% for %}: a 90-day page has some 2,000 cells,
        # and the template loop alone would cost more than the rest of the page.
        cells = "".join(f'<td class="num">{escape(cell)}</td>' for cell in self.cells)
        return mark_safe(cells)  # noqa: S308 (every cell is escaped just above)


@dataclass(frozen=True)
class Chart:
    svg: SafeString
    caption: str
    headers: tuple[str, ...]  # the first names the row labels ("Day", "Week of", ...)
    rows: tuple[Row, ...] = ()


# --- formatting -------------------------------------------------------------------------------


def duration_text(value: timedelta | None) -> str:
    """A duration as a person reads it: "3 d 4 h", "5 h 12 min", "12 min", "40 s"."""
    if value is None:
        return GAP
    seconds = max(0, int(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def score_text(value: float | None) -> str:
    return GAP if value is None else f"{value:.1f}"


def percent_text(value: float | None) -> str:
    return GAP if value is None else f"{value:.1f}%"


def count_text(value: float | None) -> str:
    return GAP if value is None else str(int(value))


def safe_svg(svg: str) -> SafeString:
    # charts escapes every text and attribute it writes (charts.markup.text / attribute).
    return mark_safe(svg)  # noqa: S308


# --- days, weeks and tables --------------------------------------------------------------------


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


Values = tuple[float | None, ...]


def table_rows(
    days: Sequence[date],
    values: Mapping[date, Values],
    formats: Sequence[Callable[[float | None], str]],
    *,
    weekly: bool,
    combine: str,
) -> tuple[Row, ...]:
    """A row per day, or per week ("last": the week's last day with data; "sum": its total).

    A day or week without data keeps its row, with a dash in every cell: a gap, not a zero.
    """
    if not weekly:
        return tuple(
            Row(day.isoformat(), table_cells(values.get(day), formats), day) for day in days
        )
    weeks: dict[date, list[Values]] = {}
    for day in days:
        seen = weeks.setdefault(week_of(day), [])
        if day in values:
            seen.append(values[day])
    return tuple(
        Row(
            f"Week of {week.isoformat()}", table_cells(combine_values(seen, combine), formats), week
        )
        for week, seen in weeks.items()
    )


def combine_values(seen: Sequence[Values], how: str) -> Values | None:
    if not seen:
        return None
    if how == "last":
        return seen[-1]
    return tuple(
        None if all(v[i] is None for v in seen) else sum(v[i] or 0 for v in seen)
        for i in range(len(seen[0]))
    )


def table_cells(
    values: Values | None, formats: Sequence[Callable[[float | None], str]]
) -> tuple[str, ...]:
    if values is None:
        return tuple(GAP for _ in formats)
    return tuple(fmt(value) for fmt, value in zip(formats, values, strict=True))


def severity_categories(counts: Iterable[Mapping[str, Any]]) -> tuple[Category, ...]:
    """The four graded severities, and "info" only when something informational is open."""
    if any(int(row.get(INFO.key) or 0) for row in counts):
        return (*SEVERITY_CATEGORIES, INFO)
    return SEVERITY_CATEGORIES


def findings_chart(
    *,
    title: str,
    chart_id: str,
    days: Sequence[date],
    counts: Mapping[date, Mapping[str, Any]],
    weekly: bool,
) -> Chart:
    """Open findings by severity, stacked. Days without data are left out of the stack."""
    categories = severity_categories(counts.values())
    buckets = [
        Bucket(day, {c.key: int(row.get(c.key) or 0) for c in categories})
        for day, row in sorted(counts.items())
    ]
    svg = stacked_area_chart(
        title=title,
        buckets=_week_ends(buckets) if weekly else buckets,
        categories=categories,
        width=WIDTH,
        height=HEIGHT,
        y_label="Open findings",
        chart_id=chart_id,
        x_start=days[0],
        x_end=days[-1],
    )
    values = {
        bucket.at: (
            *(float(bucket.values[c.key]) for c in categories),
            float(sum(bucket.values.values())),
        )
        for bucket in buckets
    }
    formats = [count_text] * (len(categories) + 1)
    return Chart(
        svg=safe_svg(svg),
        caption=f"{title}, at the end of each {'week' if weekly else 'day'}",
        headers=("Week of" if weekly else "Day", *(c.label for c in categories), "Total"),
        rows=table_rows(days, values, formats, weekly=weekly, combine="last"),
    )


def flow_chart(
    *,
    title: str,
    chart_id: str,
    days: Sequence[date],
    flow: Mapping[date, tuple[int, int]],
    weekly: bool,
) -> Chart:
    """Findings opened and resolved per day, or per week (weeks start on Monday)."""
    totals: dict[date, list[int]] = {}
    for day in sorted(flow):
        key = week_of(day) if weekly else day
        opened, resolved = flow[day]
        total = totals.setdefault(key, [0, 0])
        total[0] += opened
        total[1] += resolved
    buckets = [
        Bucket(at, {"opened": opened, "resolved": resolved})
        for at, (opened, resolved) in totals.items()
    ]
    svg = grouped_bar_chart(
        title=title,
        buckets=buckets,
        categories=FLOW_CATEGORIES,
        width=WIDTH,
        height=HEIGHT,
        y_label="Findings",
        chart_id=chart_id,
        # The same period and time axis as the line charts, not one starting on a Monday.
        x_start=days[0],
        x_end=days[-1],
        bucket_days=7 if weekly else 1,
    )
    values = {day: (float(opened), float(resolved)) for day, (opened, resolved) in flow.items()}
    return Chart(
        svg=safe_svg(svg),
        caption=f"{title}, per {'week' if weekly else 'day'}",
        headers=("Week of" if weekly else "Day", "Opened", "Resolved"),
        rows=table_rows(days, values, [count_text] * 2, weekly=weekly, combine="sum"),
    )


def _points(
    days: Sequence[date], values: Mapping[date, float | None], *, weekly: bool
) -> list[Point]:
    """A point a day; for long periods a point a week, at its last day with data.

    365 daily points are thinner than a pixel at chart width and cost most of a page's time
    to draw; the week's last value is what its table row shows too. An empty week is a gap.
    """
    if not weekly:
        return [Point(day, values.get(day)) for day in days]
    weeks: dict[date, Point] = {}
    for day in days:
        value = values.get(day)
        current = weeks.get(week_of(day))
        if value is not None or current is None or current.value is None:
            weeks[week_of(day)] = Point(day, value)
    return list(weeks.values())


def _week_ends(buckets: Sequence[Bucket]) -> list[Bucket]:
    """The last bucket of each week (buckets exist only for days with data)."""
    weeks: dict[date, Bucket] = {}
    for bucket in buckets:
        weeks[week_of(bucket.at if isinstance(bucket.at, date) else bucket.at.date())] = bucket
    return list(weeks.values())


def line_table_chart(
    *,
    title: str,
    chart_id: str,
    days: Sequence[date],
    series: Sequence[tuple[str, str, Mapping[date, float | None]]],
    y_label: str,
    markers: Sequence[Marker] = (),
    formats: Callable[[float | None], str] = score_text,
    weekly: bool,
    extra: Sequence[tuple[str, Mapping[date, float | None]]] = (),
) -> Chart:
    """One line per (name, css class, values by day); a day missing from the values is a gap.

    `extra` columns go into the table only (e.g. how many clusters a fleet day counts).
    """
    start, end = days[0], days[-1]
    svg = line_chart(
        title=title,
        series=[
            Series(name, _points(days, values, weekly=weekly), css_class)
            for name, css_class, values in series
        ],
        markers=markers,
        width=WIDTH,
        height=HEIGHT,
        y_label=y_label,
        x_start=start,
        x_end=end,
        chart_id=chart_id,
    )
    seen = set().union(*(values.keys() for _, _, values in series), *(v.keys() for _, v in extra))
    table = {
        day: (
            *(values.get(day) for _, values in extra),
            *(values.get(day) for _, _, values in series),
        )
        for day in seen
    }
    cell_formats = [count_text] * len(extra) + [formats] * len(series)
    return Chart(
        svg=safe_svg(svg),
        caption=f"{title}, at the end of each {'week' if weekly else 'day'}",
        headers=(
            "Week of" if weekly else "Day",
            *(name for name, _ in extra),
            *(name for name, _, _ in series),
        ),
        rows=table_rows(days, table, cell_formats, weekly=weekly, combine="last"),
    )
