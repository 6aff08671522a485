"""The chart renderer: pure functions from chart inputs to one `<svg>` string.

This module draws over time (line and stacked area charts); `charts.bars` draws bar charts
under the same rules.

Pages inline the string and the compliance PDF embeds the same one, so the markup keeps to
what both honour under a CSP of `style-src 'self'`: CSS classes for the site stylesheet plus
SVG presentation attributes (`fill`, `stroke`, ...) as defaults, never `style` attributes,
`<style>`, scripts or external references. Tooltips are SVG `<title>` elements; `<desc>`
holds a text summary of the data for screen readers.

The same input always gives the same bytes: no clock, no randomness, no set iteration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

from charts.axes import (
    BOTTOM,
    RIGHT,
    TOP,
    Plot,
    Scale,
    day_number,
    hover_strips,
    iso,
    left_margin,
    max_ticks,
    nice_domain,
    nice_step,
    scale,
    time_axis,
    time_ticks,
    value_axis,
    value_ticks,
)
from charts.inputs import SEVERITY_CATEGORIES, Bucket, Category, Marker, Series
from charts.markup import (
    CHARACTER_WIDTH,
    DASH,
    LEGEND_ROW,
    LegendEntry,
    check_size,
    count,
    document,
    empty_chart,
    hover_layer,
    label,
    legend,
    num,
    resolve_chart_id,
    slug,
    tag,
    text_width,
    tooltip,
    truncate,
)
from charts.palette import colour_for

# Past this many points in a series, per-point circles would weigh more than the lines.
LIGHT_POINTS = 120


# --- line chart ---------------------------------------------------------------------------------


class _Placed(NamedTuple):  # a tuple: a frozen dataclass costs more per point to build
    x: float
    at: date
    value: float | None


def _place(series: Series, start: float | None, end: float | None) -> list[_Placed]:
    """The series' points in time order, clipped to [start, end]; NaN and inf become gaps."""
    placed: list[_Placed] = []
    for point in series.points:
        x = day_number(point.at)
        if (start is not None and x < start) or (end is not None and x > end):
            continue
        value = point.value
        placed.append(
            _Placed(x, point.at, value if value is not None and math.isfinite(value) else None)
        )
    placed.sort(key=lambda placed_point: placed_point.x)
    return placed


def _runs(points: Sequence[_Placed]) -> list[list[_Placed]]:
    """Stretches of consecutive values: a gap ends one, so the line is never drawn across it."""
    runs: list[list[_Placed]] = [[]]
    for point in points:
        if point.value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def line_chart(
    *,
    title: str,
    series: Sequence[Series],
    y_min: float = 0,
    y_max: float = 100,
    markers: Sequence[Marker] = (),
    width: int = 640,
    height: int = 240,
    y_label: str = "",
    x_start: date | None = None,
    x_end: date | None = None,
    chart_id: str | None = None,
    interactive: bool = True,
) -> str:
    """Time series on one value axis, e.g. overall and per-area scores or coverage (0-100).

    Points outside [x_start, x_end] are left out; the axis spans the data when those are None.
    Values beyond [y_min, y_max] are drawn at the edge and reported exactly in tooltips.
    `interactive=False` is for print: no tooltips, hover strips or per-point circles (a value
    between two gaps still gets its dot), so a PDF lays out one polyline per run, not an element
    per day.
    """
    check_size(width, height)
    chart_id = resolve_chart_id(chart_id, title)
    start = None if x_start is None else day_number(x_start)
    end = None if x_end is None else day_number(x_end)
    placed = [_place(line, start, end) for line in series]
    everything = [point for points in placed for point in points]
    if not any(point.value is not None for point in everything):
        return empty_chart(kind="line", chart_id=chart_id, title=title, width=width, height=height)

    left, right = left_margin(y_label), width - RIGHT
    colours = [colour_for(line.css_class, index) for index, line in enumerate(series)]
    entries = [
        LegendEntry(line.name, line.css_class, c) for line, c in zip(series, colours, strict=True)
    ]
    key, rows = legend(entries, left=left, top=TOP, right=right)
    low = start if start is not None else min(point.x for point in everything)
    high = end if end is not None else max(point.x for point in everything)
    times = scale(low, high, left, right)
    shown = sorted(
        (marker for marker in markers if times.low <= day_number(marker.at) <= times.high),
        key=lambda marker: day_number(marker.at),
    )
    captions, caption_rows = _marker_captions(shown, times, width)
    top = TOP + rows * LEGEND_ROW + (marker_band(caption_rows) if shown else 0) + 6
    plot = Plot.inside(left=left, top=top, right=right, bottom=height - BOTTOM)
    values = scale(y_min, y_max, plot.bottom, plot.top, widen=1)
    ticks = time_ticks(
        times.low,
        times.high,
        max_ticks=max_ticks(plot.width),
        with_time=any(isinstance(point.at, datetime) for point in everything),
    )
    dense = any(sum(p.value is not None for p in points) > LIGHT_POINTS for points in placed)

    body = [
        key,
        value_axis(
            values,
            value_ticks(values.low, values.high, nice_step(values.high - values.low)),
            plot,
            title=y_label,
        ),
        time_axis(times, ticks, plot, width=width),
        _markers(shown, captions, caption_rows, times, plot),
    ]
    body += [
        _line(line, points, colour, times, values, light=interactive and not dense)
        for line, points, colour in zip(series, placed, colours, strict=True)
    ]
    if dense and interactive:
        body.append(_line_hover(series, placed, times, plot))
    summary = _line_summary(series, placed, shown)
    return document(
        kind="line",
        chart_id=chart_id,
        title=title,
        summary=summary,
        width=width,
        height=height,
        body="".join(body),
    )


def _line(
    series: Series,
    points: Sequence[_Placed],
    colour: str,
    times: Scale,
    values: Scale,
    *,
    light: bool,
) -> str:
    """One polyline per run of values; circles with tooltips unless the chart is dense."""
    lines: list[str] = []
    dots: list[str] = []
    low, high = values.low, values.high
    for run in _runs(points):
        coordinates = [
            (times(p.x), values(low if p.value < low else min(p.value, high)))
            for p in run
            if p.value is not None
        ]
        if len(run) > 1:
            joined = " ".join(f"{num(x)},{num(y)}" for x, y in coordinates)
            lines.append(
                tag(
                    "polyline",
                    {
                        "class": "chart-line",
                        "points": joined,
                        "fill": "none",
                        "stroke": colour,
                        "stroke-width": 2,
                        "stroke-linejoin": "round",
                    },
                )
            )
        if light or len(run) == 1:  # a value between two gaps would otherwise be invisible
            for p, (x, y) in zip(run, coordinates, strict=True):
                hint = (
                    tooltip(f"{iso(p.at)} {DASH} {series.name}: {p.value:.1f}") if light else None
                )
                dots.append(tag("circle", {"cx": x, "cy": y, "r": 2.5}, hint))
    points_group = (
        tag("g", {"class": "chart-points", "fill": colour}, "".join(dots)) if dots else ""
    )
    css = f"chart-series {series.css_class}".strip()
    return tag("g", {"class": css}, "".join(lines) + points_group)


def _line_hover(
    series: Sequence[Series], placed: Sequence[Sequence[_Placed]], times: Scale, plot: Plot
) -> str:
    """Strips naming every series' value on one date, for charts too dense for circles."""
    readings = [{p.x: p.value for p in points if p.value is not None} for points in placed]
    dates = {p.x: p.at for points in placed for p in points if p.value is not None}
    days = sorted(dates)

    def describe(index: int) -> str:
        day = days[index]
        parts = []
        for line, reading in zip(series, readings, strict=True):
            value = reading.get(day)
            parts.append(f"{line.name}: {'no data' if value is None else f'{value:.1f}'}")
        return f"{iso(dates[day])} {DASH} {', '.join(parts)}"

    return hover_layer(hover_strips([times(day) for day in days], describe, plot))


MARKER_ROWS = 3  # label rows above the plot; a label with no room in any is a tooltip only
MARKER_ROW = 12
MARKER_LABEL_MAX = 56  # characters: longer labels are cut, the tooltip keeps the whole
MARKER_LABEL_MIN = 12  # a label cut shorter than this says too little to be worth showing
MARKER_GAP = 6  # pixels between neighbouring labels in a row


class _Caption(NamedTuple):
    row: int
    text: str
    anchor: str
    x: float


def _marker_captions(
    markers: Sequence[Marker], times: Scale, width: int
) -> tuple[list[_Caption | None], int]:
    """Where each marker's label goes: the first row it fits in without touching another
    label or the chart's edge, full if it fits, else cut to the room there is, else none.

    Markers a few pixels apart (a year of daily events) would stack labels over one another;
    the later of two such markers keeps only its tooltip. Returns the captions (None: no
    label) and how many rows are used.
    """
    row_ends = [-math.inf] * MARKER_ROWS
    captions: list[_Caption | None] = []
    last_x = -math.inf
    for marker in markers:
        x = times(day_number(marker.at))
        if x - last_x < 3:
            captions.append(None)
            continue
        name = truncate(marker.label, MARKER_LABEL_MAX * CHARACTER_WIDTH)
        caption = _fit(name, x, row_ends, width)
        if caption is None:
            caption = _cut(name, x, row_ends, width)
        if caption is not None:
            last_x = x
            extent_end = (
                caption.x + text_width(caption.text) if caption.anchor == "start" else x + 5
            )
            row_ends[caption.row] = extent_end
        captions.append(caption)
    rows = max((c.row + 1 for c in captions if c is not None), default=0)
    return captions, rows


def _fit(name: str, x: float, row_ends: Sequence[float], width: int) -> _Caption | None:
    """The first row where `name` fits to the right of x, or else to its left."""
    name_width = text_width(name)
    for row in range(len(row_ends)):
        row_end = row_ends[row]
        if x + 6 + name_width <= width - 2 and x - 5 > row_end + MARKER_GAP:
            return _Caption(row, name, "start", x + 6)
        if x - 6 - name_width >= 2 and x - 6 - name_width > row_end + MARKER_GAP:
            return _Caption(row, name, "end", x - 6)
    return None


def _cut(name: str, x: float, row_ends: Sequence[float], width: int) -> _Caption | None:
    """No row holds the whole label: the widest cut that fits in a row, if it says enough."""
    for row, row_end in enumerate(row_ends):
        right = width - 2 - (x + 6) if x - 5 > row_end + MARKER_GAP else 0.0
        left = (x - 6) - max(2.0, row_end + MARKER_GAP)
        cut = truncate(name, max(right, left))
        if len(cut) >= MARKER_LABEL_MIN and max(right, left) > 0:
            if right >= left:
                return _Caption(row, cut, "start", x + 6)
            return _Caption(row, cut, "end", x - 6)
    return None


def _markers(
    markers: Sequence[Marker],
    captions: Sequence[_Caption | None],
    rows: int,
    times: Scale,
    plot: Plot,
) -> str:
    """Dashed lines with a glyph, each with its tooltip and the label `_marker_captions` placed."""
    parts: list[str] = []
    band_top = plot.top - marker_band(rows)
    for marker, placed in zip(markers, captions, strict=True):
        x = times(day_number(marker.at))
        css = f"marker-{slug(marker.kind) or 'event'}"
        colour = colour_for(css)
        caption = ""
        if placed is not None:
            y = band_top + 6 + placed.row * MARKER_ROW
            caption = label(
                placed.x, y, placed.text, anchor=placed.anchor, css_class="marker-label"
            )
        rule = tag(
            "path",
            {
                "class": "marker-line",
                "d": f"M{num(x)} {num(plot.top)}V{num(plot.bottom)}",
                "fill": "none",
                "stroke": colour,
                "stroke-dasharray": "4 3",
            },
        )
        glyph = tag(
            "path", {"class": "marker-glyph", "d": f"M{num(x - 4)} {num(plot.top)}h8l-4 6z"}
        )
        content = tooltip(f"{iso(marker.at)} {DASH} {marker.label}") + rule + glyph + caption
        parts.append(tag("g", {"class": f"chart-marker {css}", "fill": colour}, content))
    return "".join(parts)


def marker_band(rows: int) -> float:
    """The height above the plot that `rows` rows of marker labels take."""
    return rows * MARKER_ROW + 8 if rows else 8


def _line_summary(
    series: Sequence[Series], placed: Sequence[Sequence[_Placed]], markers: Sequence[Marker]
) -> str:
    sentences: list[str] = []
    for line, points in zip(series, placed, strict=True):
        valued = [(p.at, p.value) for p in points if p.value is not None]
        if not valued:
            sentences.append(f"{line.name}: no data.")
            continue
        numbers = [value for _, value in valued]
        period = f"from {iso(valued[0][0])} to {iso(valued[-1][0])}"
        sentences.append(
            f"{line.name} {period}: latest {numbers[-1]:.1f}, "
            f"lowest {min(numbers):.1f}, highest {max(numbers):.1f}."
        )
    if markers:
        events = "; ".join(f"{iso(marker.at)} {marker.label}" for marker in markers)
        sentences.append(f"Markers: {events}.")
    return " ".join(sentences)


# --- stacked area chart ---------------------------------------------------------------------------


def stacked_area_chart(
    *,
    title: str,
    buckets: Sequence[Bucket],
    categories: Sequence[Category] = SEVERITY_CATEGORIES,
    width: int = 640,
    height: int = 240,
    y_label: str = "",
    chart_id: str | None = None,
    x_start: date | None = None,
    x_end: date | None = None,
) -> str:
    """Counts that add up over time, e.g. open findings by severity.

    The first category is the bottom layer. A bucket is one moment (the count on that day);
    the area runs straight between buckets. With `x_start` and `x_end` the time axis spans
    that period (buckets outside it are left out), as `line_chart`'s does, so charts of one
    period line up; else it spans the buckets.
    """
    check_size(width, height)
    chart_id = resolve_chart_id(chart_id, title)
    ordered = sorted(buckets, key=lambda bucket: day_number(bucket.at))
    start = None if x_start is None else day_number(x_start)
    end = None if x_end is None else day_number(x_end)
    ordered = [
        bucket
        for bucket in ordered
        if (start is None or day_number(bucket.at) >= start)
        and (end is None or day_number(bucket.at) <= end)
    ]
    if not ordered or not categories:
        return empty_chart(
            kind="stacked", chart_id=chart_id, title=title, width=width, height=height
        )

    # A stack cannot hold a negative share: a negative count is drawn as none.
    counts = [[max(0, bucket.values.get(c.key, 0)) for c in categories] for bucket in ordered]
    totals = [sum(row) for row in counts]
    left, right = left_margin(y_label), width - RIGHT
    colours = [colour_for(c.css_class, index) for index, c in enumerate(categories)]
    entries = [
        LegendEntry(c.label, c.css_class, colour)
        for c, colour in zip(categories, colours, strict=True)
    ]
    key, rows = legend(entries, left=left, top=TOP, right=right)
    plot = Plot.inside(
        left=left, top=TOP + rows * LEGEND_ROW + 8, right=right, bottom=height - BOTTOM
    )
    days = [day_number(bucket.at) for bucket in ordered]
    times = scale(
        days[0] if start is None else start, days[-1] if end is None else end, plot.left, plot.right
    )
    low, high, step = nice_domain(0, max(totals), integer=True)
    values = scale(low, high, plot.bottom, plot.top)
    with_time = any(isinstance(bucket.at, datetime) for bucket in ordered)
    ticks = time_ticks(times.low, times.high, max_ticks=max_ticks(plot.width), with_time=with_time)

    body = [
        key,
        value_axis(values, value_ticks(low, high, step), plot, title=y_label),
        time_axis(times, ticks, plot, width=width),
    ]
    base = [0.0] * len(ordered)
    for index, (category, colour) in enumerate(zip(categories, colours, strict=True)):
        stacked = [below + row[index] for below, row in zip(base, counts, strict=True)]
        if any(row[index] for row in counts):
            body.append(_layer(category, colour, days, base, stacked, times, values, plot))
        base = stacked

    def describe(index: int) -> str:
        parts = ", ".join(
            f"{c.label}: {count(n)}" for c, n in zip(categories, counts[index], strict=True)
        )
        return f"{iso(ordered[index].at)} {DASH} {parts} (total {count(totals[index])})"

    body.append(hover_layer(hover_strips([times(day) for day in days], describe, plot)))
    peak = totals.index(max(totals))
    latest = ", ".join(f"{c.label} {count(n)}" for c, n in zip(categories, counts[-1], strict=True))
    first, last = iso(ordered[0].at), iso(ordered[-1].at)
    summary = (
        f"From {first} to {last}. Latest ({last}): {latest}; total {count(totals[-1])}. "
        f"Highest total {count(totals[peak])} on {iso(ordered[peak].at)}."
    )
    return document(
        kind="stacked",
        chart_id=chart_id,
        title=title,
        summary=summary,
        width=width,
        height=height,
        body="".join(body),
    )


def _layer(
    category: Category,
    colour: str,
    days: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    times: Scale,
    values: Scale,
    plot: Plot,
) -> str:
    css = f"chart-area {category.css_class}".strip()
    if len(days) == 1:  # one bucket has no width in time: draw it as a bar
        half = min(24.0, plot.width / 6)
        top, bottom = values(upper[0]), values(lower[0])
        box = {"x": times(days[0]) - half, "y": top, "width": 2 * half, "height": bottom - top}
        return tag("rect", {"class": css, "fill": colour, **box})
    outline = [(times(x), values(y)) for x, y in zip(days, upper, strict=True)]
    outline += [(times(x), values(y)) for x, y in zip(reversed(days), reversed(lower), strict=True)]
    points = " ".join(f"{num(x)},{num(y)}" for x, y in outline)
    # The thin same-colour stroke closes the hairline seams anti-aliasing leaves between layers.
    return tag(
        "polygon",
        {"class": css, "points": points, "fill": colour, "stroke": colour, "stroke-width": 0.5},
    )
