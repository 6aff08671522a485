"""Bar charts: labelled bars on a zero line, and bars grouped side by side per day or week.

Same contract as `charts.svg`: pure functions returning one CSP-safe, deterministic `<svg>`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Literal

from charts.axes import (
    BOTTOM,
    MONTHS,
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
    scale,
    short_date,
    time_axis,
    time_ticks,
    value_axis,
    value_ticks,
)
from charts.inputs import Bar, Bucket, Category
from charts.markup import (
    DASH,
    LEGEND_ROW,
    HoverTarget,
    LegendEntry,
    check_size,
    count,
    document,
    empty_chart,
    hover_layer,
    label,
    legend,
    resolve_chart_id,
    tag,
    text_width,
    truncate,
)
from charts.palette import colour_for

# Share of a band the bars fill; the rest separates neighbouring bands.
BAR_SHARE = 0.8
# Extra room beyond the longest bar for its value label, as a share of the value range.
VALUE_ROOM = 0.12


def grouped_bar_chart(
    *,
    title: str,
    buckets: Sequence[Bucket],
    categories: Sequence[Category],
    width: int = 640,
    height: int = 240,
    y_label: str = "",
    chart_id: str | None = None,
    x_start: date | None = None,
    x_end: date | None = None,
    bucket_days: int = 1,
) -> str:
    """One bar per category side by side in each bucket, e.g. findings opened vs resolved.

    Without `x_start`/`x_end` the buckets are evenly spaced bands. With both, the x axis is
    the same time axis `line_chart` draws for that period (same domain, same ticks), so the
    chart lines up with the line charts above it: each bucket covers `bucket_days` days from
    its date, clipped to the period (a week that began before `x_start` is drawn from it).
    """
    check_size(width, height)
    chart_id = resolve_chart_id(chart_id, title)
    ordered = sorted(buckets, key=lambda bucket: day_number(bucket.at))
    timed = x_start is not None and x_end is not None
    if timed:
        assert x_start is not None and x_end is not None
        first_day, last_day = day_number(x_start), day_number(x_end)
        ordered = [b for b in ordered if first_day - bucket_days < day_number(b.at) <= last_day]
    if not ordered or not categories:
        return empty_chart(
            kind="grouped", chart_id=chart_id, title=title, width=width, height=height
        )

    counts = [[bucket.values.get(c.key, 0) for c in categories] for bucket in ordered]
    flat = [n for row in counts for n in row]
    integer = all(float(n).is_integer() for n in flat)
    low, high, step = nice_domain(min(0, *flat), max(0, *flat), integer=integer)
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
    values = scale(low, high, plot.bottom, plot.top)
    if timed:
        times = scale(first_day, last_day, plot.left, plot.right)
        ticks = time_ticks(times.low, times.high, max_ticks=max_ticks(plot.width), with_time=False)
        axis = time_axis(times, ticks, plot, width=width)
        spans = [_bucket_span(b, bucket_days, times, plot) for b in ordered]
    else:
        bands = scale(-0.5, len(ordered) - 0.5, plot.left, plot.right)  # band i is centred on i
        band = plot.width / len(ordered)
        axis = time_axis(bands, _bucket_ticks(ordered, plot), plot, width=width)
        spans = [(bands(i) - band / 2, bands(i) + band / 2) for i in range(len(ordered))]
    zero = values(0)

    body = [
        key,
        value_axis(values, value_ticks(low, high, step), plot, title=y_label, zero_line=True),
        axis,
    ]
    for index, (category, colour) in enumerate(zip(categories, colours, strict=True)):
        rects = []
        for position, row in enumerate(counts):
            if row[index] == 0:
                continue
            y = values(row[index])
            left_edge, right_edge = spans[position]
            thickness = (right_edge - left_edge) * BAR_SHARE / len(categories)
            x = (left_edge + right_edge) / 2 - thickness * len(categories) / 2 + index * thickness
            box = {"x": x, "y": min(y, zero), "width": thickness, "height": abs(zero - y)}
            rects.append(tag("rect", box))
        css = f"chart-bars {category.css_class}".strip()
        body.append(tag("g", {"class": css, "fill": colour}, "".join(rects)))

    def describe(position: int) -> str:
        parts = ", ".join(
            f"{c.label}: {count(n)}" for c, n in zip(categories, counts[position], strict=True)
        )
        return f"{iso(ordered[position].at)} {DASH} {parts}"

    centres = [(left_edge + right_edge) / 2 for left_edge, right_edge in spans]
    body.append(hover_layer(hover_strips(centres, describe, plot)))
    totals = ", ".join(
        f"{c.label} {count(sum(row[index] for row in counts))}"
        for index, c in enumerate(categories)
    )
    latest = ", ".join(f"{c.label} {count(n)}" for c, n in zip(categories, counts[-1], strict=True))
    summary = (
        f"{len(ordered)} periods from {iso(ordered[0].at)} to {iso(ordered[-1].at)}. "
        f"Totals: {totals}. Latest ({iso(ordered[-1].at)}): {latest}."
    )
    return document(
        kind="grouped",
        chart_id=chart_id,
        title=title,
        summary=summary,
        width=width,
        height=height,
        body="".join(body),
    )


def _bucket_span(bucket: Bucket, days: int, times: Scale, plot: Plot) -> tuple[float, float]:
    """The pixels a bucket of `days` days covers, its day centred as line charts place it."""
    start = day_number(bucket.at) - 0.5
    left_edge = max(plot.left, times(start))
    right_edge = min(plot.right, times(start + days))
    return left_edge, max(right_edge, left_edge + 1)


def _bucket_ticks(buckets: Sequence[Bucket], plot: Plot) -> list[tuple[float, str]]:
    """A label under every k-th bucket; month buckets read "Nov 2026", others "Nov 20"."""
    every = math.ceil(len(buckets) / max_ticks(plot.width, spacing=64))
    days = [day_number(bucket.at) for bucket in buckets]
    monthly = len(buckets) > 1 and all(
        bucket.at.day == 1 and later - earlier >= 28
        for bucket, earlier, later in zip(buckets[1:], days, days[1:], strict=False)
    )
    return [
        (
            float(position),
            f"{MONTHS[bucket.at.month - 1]} {bucket.at.year}" if monthly else short_date(bucket.at),
        )
        for position, bucket in enumerate(buckets)
        if position % every == 0
    ]


def bar_chart(
    *,
    title: str,
    bars: Sequence[Bar],
    orientation: Literal["vertical", "horizontal"] = "vertical",
    width: int = 640,
    height: int | None = None,
    value_label: str = "",
    show_values: bool = True,
    chart_id: str | None = None,
) -> str:
    """Labelled bars from a zero line, e.g. a score histogram or the worst movers.

    Negative values go down (vertical) or left (horizontal) from zero, so gains and losses
    diverge. Horizontal suits long labels such as cluster names; its height follows the
    number of bars unless given.
    """
    horizontal = orientation == "horizontal"
    if height is None:
        height = max(100, 40 + 22 * len(bars) + (16 if value_label else 0)) if horizontal else 240
    check_size(width, height)
    chart_id = resolve_chart_id(chart_id, title)
    if not bars:
        return empty_chart(kind="bar", chart_id=chart_id, title=title, width=width, height=height)

    numbers = [bar.value if math.isfinite(bar.value) else 0.0 for bar in bars]
    low, high = min(0.0, *numbers), max(0.0, *numbers)
    if show_values:
        room = (high - low or 1) * VALUE_ROOM
        low, high = (low - room if low < 0 else low), (high + room if high > 0 else high)
    integer = all(float(n).is_integer() for n in numbers)
    low, high, step = nice_domain(low, high, integer=integer)
    if horizontal:
        names = max(text_width(bar.label) for bar in bars) + 12
        left = min(max(40.0, names), width * 0.35)
        plot = Plot.inside(
            left=left,
            top=TOP + 4,
            right=width - RIGHT,
            bottom=height - BOTTOM - (16 if value_label else 0),
        )
        values = scale(low, high, plot.left, plot.right)
    else:
        left = left_margin(value_label)
        plot = Plot.inside(left=left, top=TOP + 10, right=width - RIGHT, bottom=height - BOTTOM)
        values = scale(low, high, plot.bottom, plot.top)

    axis = value_axis(
        values,
        value_ticks(low, high, step),
        plot,
        title=value_label,
        horizontal=horizontal,
        zero_line=True,
    )
    shapes, texts, targets = _bars(
        bars, numbers, values, plot, horizontal=horizontal, show_values=show_values
    )
    labels = tag("g", {"class": "chart-bar-labels"}, "".join(texts))
    body = [axis, "".join(shapes), labels, hover_layer(targets)]
    listed = "; ".join(f"{bar.label}: {count(n)}" for bar, n in zip(bars, numbers, strict=True))
    return document(
        kind="bar",
        chart_id=chart_id,
        title=title,
        summary=f"{listed}.",
        width=width,
        height=height,
        body="".join(body),
    )


def _bars(
    bars: Sequence[Bar],
    numbers: Sequence[float],
    values: Scale,
    plot: Plot,
    *,
    horizontal: bool,
    show_values: bool,
) -> tuple[list[str], list[str], list[HoverTarget]]:
    """The bars, their category and value labels, and one hover band per bar."""
    length = plot.height if horizontal else plot.width
    band = length / len(bars)
    thickness = band * (0.7 if horizontal else BAR_SHARE)
    every = 1 if horizontal or band >= 30 else math.ceil(30 / band)
    zero = values(0)
    shapes: list[str] = []
    texts: list[str] = []
    targets: list[HoverTarget] = []
    for position, (bar, number) in enumerate(zip(bars, numbers, strict=True)):
        css = bar.css_class or ("bar-negative" if number < 0 else "bar-positive")
        end = values(number)
        start = (plot.top if horizontal else plot.left) + position * band
        middle = start + band / 2
        hint = bar.title or f"{bar.label}: {count(number)}"
        if horizontal:
            box = {"x": min(zero, end), "y": middle - thickness / 2, "width": abs(end - zero)}
            box["height"] = thickness
            targets.append(HoverTarget(plot.left, start, plot.right, start + band, hint))
            name = truncate(bar.label, plot.left - 12)
            texts.append(label(plot.left - 6, middle, name, anchor="end", css_class="bar-name"))
            anchor = "end" if number < 0 else "start"
            value_at = (end - 4 if number < 0 else end + 4), middle
        else:
            box = {"x": middle - thickness / 2, "y": min(zero, end), "width": thickness}
            box["height"] = abs(end - zero)
            targets.append(HoverTarget(start, plot.top, start + band, plot.bottom, hint))
            if position % every == 0:
                name = truncate(bar.label, band * every - 2)
                texts.append(label(middle, plot.bottom + 12, name, css_class="bar-name"))
            anchor = "middle"
            value_at = middle, (end + 8 if number < 0 else end - 8)
        colour = colour_for(css)
        shapes.append(tag("rect", {"class": f"chart-bar {css}", "fill": colour, **box}))
        if show_values:
            texts.append(label(*value_at, count(number), anchor=anchor, css_class="bar-value"))
    return shapes, texts, targets
