"""Scales and axes: where values and dates land on the plot, and which of them get a tick."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from charts.markup import HoverTarget, label, num, tag, text, text_width
from charts.palette import AXIS, GRID, MUTED

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Below this the plot is unreadable anyway; it also keeps every scale's pixel range non-empty.
MINIMUM_PLOT = 10.0
# Past this many hover targets a chart grows heavy; neighbours share one target instead.
HOVER_LIMIT = 120
_EPSILON = 1e-9
# Margins around the plot, in pixels: legend rows go below TOP, tick labels into BOTTOM.
TOP = 6
BOTTOM = 24
RIGHT = 16


def left_margin(axis_title: str) -> float:
    """Room for tick labels, and for the rotated axis title when there is one."""
    return 44 + (16 if axis_title else 0)


@dataclass(frozen=True, slots=True)
class Plot:
    """The pixel box the data is drawn in; axes and legend live outside it."""

    left: float
    top: float
    right: float
    bottom: float

    @classmethod
    def inside(cls, *, left: float, top: float, right: float, bottom: float) -> Plot:
        return cls(left, top, max(right, left + MINIMUM_PLOT), max(bottom, top + MINIMUM_PLOT))

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Scale:
    """Maps [low, high] linearly onto pixels [start, end]; build with `scale()`."""

    low: float
    high: float
    start: float
    end: float
    factor: float  # pixels per unit, computed once: a year of points calls this thousands of times

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) * self.factor


def scale(low: float, high: float, start: float, end: float, *, widen: float = 0.5) -> Scale:
    """A scale whose domain is never empty: a single value is widened to sit in the middle."""
    low, high = min(low, high), max(low, high)
    if high - low < _EPSILON:
        low, high = low - widen, high + widen
    return Scale(low, high, start, end, (end - start) / (high - low))


# --- values -------------------------------------------------------------------------------------


def nice_step(span: float, *, target: int = 5, integer: bool = False) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks."""
    raw = span / target
    if integer and raw <= 1:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 2.0, 2.5, 5.0):
        step = multiple * magnitude
        if integer and step != int(step):
            continue
        if step >= raw - _EPSILON:
            return step
    return 10 * magnitude


def value_ticks(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step - _EPSILON)
    last = math.floor(high / step + _EPSILON)
    return [round(index * step, 9) for index in range(first, last + 1)]


def nice_domain(low: float, high: float, *, integer: bool) -> tuple[float, float, float]:
    """[low, high] widened to whole steps, and the step; an empty domain becomes [low, low+1]."""
    if high - low < _EPSILON:
        high = low + 1
    step = nice_step(high - low, integer=integer)
    return (
        math.floor(low / step + _EPSILON) * step,
        math.ceil(high / step - _EPSILON) * step,
        step,
    )


def tick_label(value: float) -> str:
    rounded = round(value, 6)
    return "0" if rounded == 0 else f"{rounded:g}"


def value_axis(
    values: Scale,
    ticks: Sequence[float],
    plot: Plot,
    *,
    title: str = "",
    horizontal: bool = False,
    zero_line: bool = False,
) -> str:
    """Gridlines across the plot and tick labels; `horizontal` puts the values along the x axis."""
    grid: list[str] = []
    labels: list[str] = []
    for tick in ticks:
        at = values(tick)
        if horizontal:
            grid.append(f"M{num(at)} {num(plot.top)}V{num(plot.bottom)}")
            labels.append(label(at, plot.bottom + 12, tick_label(tick)))
        else:
            grid.append(f"M{num(plot.left)} {num(at)}H{num(plot.right)}")
            labels.append(label(plot.left - 6, at, tick_label(tick), anchor="end"))
    parts = [
        tag("path", {"class": "chart-grid", "d": "".join(grid), "stroke": GRID, "fill": "none"})
    ]
    if zero_line and values.low <= 0 <= values.high:
        zero = values(0)
        d = (
            f"M{num(zero)} {num(plot.top)}V{num(plot.bottom)}"
            if horizontal
            else f"M{num(plot.left)} {num(zero)}H{num(plot.right)}"
        )
        parts.append(tag("path", {"class": "chart-zero", "d": d, "stroke": AXIS, "fill": "none"}))
    if title and horizontal:
        labels.append(label((plot.left + plot.right) / 2, plot.bottom + 28, title))
    elif title:
        middle = (plot.top + plot.bottom) / 2
        labels.append(
            tag(
                "text",
                {
                    "transform": f"translate({num(plot.left - 36)} {num(middle)}) rotate(-90)",
                    "text-anchor": "middle",
                },
                text(title),
            )
        )
    parts.append(tag("g", {"class": "chart-axis-labels", "fill": MUTED}, "".join(labels)))
    return "".join(parts)


# --- time ---------------------------------------------------------------------------------------


def day_number(at: date) -> float:
    """Days since 0001-01-01 (plus the fraction of the day for a datetime): the x coordinate."""
    if isinstance(at, datetime):
        seconds = at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6
        return at.toordinal() + seconds / 86400
    return float(at.toordinal())


def iso(at: date) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if isinstance(at, datetime) else at.isoformat()


def short_date(at: date) -> str:
    """A day as "Nov 20"; the year is in the tooltips and the summary."""
    return f"{MONTHS[at.month - 1]} {at.day}"


def _day_label(ordinal: int) -> str:
    return short_date(date.fromordinal(ordinal))


def _pick(steps: Sequence[int], span: float, max_ticks: int) -> int:
    return next((step for step in steps if span / step + 1 <= max_ticks), steps[-1])


def time_ticks(
    low: float, high: float, *, max_ticks: int, with_time: bool
) -> list[tuple[float, str]]:
    """Tick positions and labels: hours, days up to a month, then weeks, then months."""
    low, high = max(low, 1.0), min(high, float(date.max.toordinal()))
    span = high - low
    if with_time and span <= 2:
        step = _pick((1, 2, 3, 6, 12, 24), span * 24, max_ticks)
        first, last = math.ceil(low * 24 / step - 1e-6), math.floor(high * 24 / step + 1e-6)
        ticks: list[tuple[float, str]] = []
        for index in range(first, last + 1):
            hours = index * step
            day, hour = divmod(hours, 24)
            ticks.append((hours / 24, _day_label(day) if hour == 0 else f"{hour:02d}:00"))
        return ticks
    if span <= 31:
        step = _pick((1, 2, 3, 5, 7, 10, 16), span, max_ticks)
        first = math.ceil(low - _EPSILON)
        return [(d, _day_label(d)) for d in range(first, math.floor(high + _EPSILON) + 1, step)]
    if span <= 183:
        step = 7 * _pick((1, 2, 4, 8), span / 7, max_ticks)
        monday = math.ceil(low - _EPSILON)
        monday += (1 - monday) % 7  # 0001-01-01, ordinal 1, was a Monday
        return [(d, _day_label(d)) for d in range(monday, math.floor(high) + 1, step)]
    return _month_ticks(low, high, max_ticks)


def _month_ticks(low: float, high: float, max_ticks: int) -> list[tuple[float, str]]:
    start = date.fromordinal(math.floor(low))
    step = _pick((1, 2, 3, 6, 12, 24, 60, 120, 600), (high - low) / 30.44, max_ticks)
    index = start.year * 12 + start.month - 1 + (start.day > 1)
    index = math.ceil(index / step) * step
    ticks: list[tuple[float, str]] = []
    while index // 12 <= date.max.year:
        first = date(index // 12, index % 12 + 1, 1)
        if first.toordinal() > high:
            break
        if step >= 12:
            name = str(first.year)
        elif first.month == 1 or not ticks:
            name = f"{MONTHS[first.month - 1]} {first.year}"
        else:
            name = MONTHS[first.month - 1]
        ticks.append((float(first.toordinal()), name))
        index += step
    return ticks


def max_ticks(length: float, *, spacing: float = 72) -> int:
    return max(2, int(length // spacing))


def time_axis(times: Scale, ticks: Sequence[tuple[float, str]], plot: Plot, *, width: int) -> str:
    """The baseline with a tick mark and a label per tick, labels kept inside the chart."""
    marks: list[str] = [f"M{num(plot.left)} {num(plot.bottom)}H{num(plot.right)}"]
    labels: list[str] = []
    for position, name in ticks:
        x = times(position)
        marks.append(f"M{num(x)} {num(plot.bottom)}v4")
        half = text_width(name) / 2
        if x + half > width - 2:
            labels.append(label(width - 2, plot.bottom + 12, name, anchor="end"))
        else:
            labels.append(label(max(x, half + 2), plot.bottom + 12, name))
    axis = {"class": "chart-axis", "d": "".join(marks), "stroke": AXIS, "fill": "none"}
    return tag("path", axis) + tag(
        "g", {"class": "chart-axis-labels", "fill": MUTED}, "".join(labels)
    )


def hover_strips(
    positions: Sequence[float], describe: Callable[[int], str], plot: Plot
) -> list[HoverTarget]:
    """One full-height strip per sorted x position, reaching halfway to its neighbours.

    Past HOVER_LIMIT positions, neighbours share a strip, which shows its last position: a
    year of days stays a light page and each tooltip still names one exact date.
    """
    total = len(positions)
    size = max(1, math.ceil(total / HOVER_LIMIT))
    targets: list[HoverTarget] = []
    for first in range(0, total, size):
        last = min(first + size, total) - 1
        left = plot.left if first == 0 else (positions[first - 1] + positions[first]) / 2
        right = plot.right if last == total - 1 else (positions[last] + positions[last + 1]) / 2
        targets.append(HoverTarget(left, plot.top, right, plot.bottom, describe(last)))
    return targets
