"""Stacked, grouped and plain bar charts, and the date axis, read back as XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from charts import (
    Bar,
    bar_chart,
    grouped_bar_chart,
    stacked_area_chart,
)
from charts.axes import time_ticks
from charts.tests.svg_reading import (
    OPENED_RESOLVED,
    START,
    buckets,
    classes,
    description,
    elements,
    parse,
    texts,
    tooltips,
    with_class,
)

# --- stacked area chart -------------------------------------------------------------------------


def test_it_stacks_severities_and_lists_them_all_per_bucket() -> None:
    root = parse(
        stacked_area_chart(
            title="Open findings",
            buckets=buckets({"critical": 1, "high": 2, "low": 4}, {"critical": 3, "high": 1}),
        )
    )

    layers = with_class(root, "polygon", "chart-area")
    assert [sorted(classes(layer) - {"chart-area"}) for layer in layers] == [
        ["sev-critical"],
        ["sev-high"],
        ["sev-low"],  # medium is zero throughout: no empty layer
    ]
    assert tooltips(root) == [
        "2026-10-27 \u2014 Critical: 1, High: 2, Medium: 0, Low: 4 (total 7)",
        "2026-10-28 \u2014 Critical: 3, High: 1, Medium: 0, Low: 0 (total 4)",
    ]
    assert "Highest total 7 on 2026-10-27." in description(root)


# --- grouped bar chart --------------------------------------------------------------------------


def test_it_puts_opened_and_resolved_side_by_side() -> None:
    weekly = buckets(
        {"opened": 4, "resolved": 2}, {"opened": 0, "resolved": 5}, step=timedelta(weeks=1)
    )
    root = parse(grouped_bar_chart(title="Flow", buckets=weekly, categories=OPENED_RESOLVED))

    opened, resolved = with_class(root, "g", "chart-bars")
    assert "series-opened" in classes(opened)
    assert len(elements(opened, "rect")) == 1  # a zero draws nothing
    assert len(elements(resolved, "rect")) == 2
    assert tooltips(root) == [
        "2026-10-27 \u2014 Opened: 4, Resolved: 2",
        "2026-11-03 \u2014 Opened: 0, Resolved: 5",
    ]
    assert "Totals: Opened 4, Resolved 7." in description(root)


# --- bar chart ----------------------------------------------------------------------------------


def zero_line(root: ET.Element) -> str:
    (path,) = with_class(root, "path", "chart-zero")
    return path.get("d", "")


def test_it_draws_negative_bars_down_from_the_zero_line() -> None:
    root = parse(bar_chart(title="Movers", bars=[Bar("prod", -12.5), Bar("dev", 4)]))

    zero = float(re.findall(r"[-\d.]+", zero_line(root))[1])
    falling, rising = with_class(root, "rect", "chart-bar")
    assert "bar-negative" in classes(falling)
    assert float(falling.get("y", "0")) == pytest.approx(zero, abs=0.1)
    assert float(rising.get("y", "0")) + float(rising.get("height", "0")) == pytest.approx(
        zero, abs=0.1
    )
    assert "-12.5" in texts(root)
    assert description(root) == "prod: -12.5; dev: 4."


def test_it_draws_negative_bars_left_of_zero_when_horizontal() -> None:
    bars = [Bar("prod-eu-west-1", -12.5), Bar("staging", 7, title="staging gained 7 points")]
    root = parse(bar_chart(title="Movers", bars=bars, orientation="horizontal"))

    zero = float(re.findall(r"[-\d.]+", zero_line(root))[0])
    falling, rising = with_class(root, "rect", "chart-bar")
    assert float(falling.get("x", "0")) + float(falling.get("width", "0")) == pytest.approx(
        zero, abs=0.1
    )
    assert float(rising.get("x", "0")) == pytest.approx(zero, abs=0.1)
    assert tooltips(root) == ["prod-eu-west-1: -12.5", "staging gained 7 points"]
    assert "prod-eu-west-1" in texts(root)


def test_it_draws_a_histogram_with_its_own_classes() -> None:
    bars = [Bar("0\u201310", 2, "score-poor"), Bar("90\u2013100", 9, "score-good")]
    root = parse(bar_chart(title="Distribution", bars=[*bars, Bar("no score", 1, "score-none")]))

    assert [rect.get("fill") for rect in with_class(root, "rect", "chart-bar")] == [
        "#a2261d",
        "#1b6e3a",
        "#9aa5b1",
    ]
    assert {"0\u201310", "90\u2013100", "no score", "9"} <= set(texts(root))


# --- date ticks ---------------------------------------------------------------------------------


def ordinal(day: date) -> float:
    return float(day.toordinal())


def test_it_ticks_days_within_a_month() -> None:
    ticks = time_ticks(ordinal(START), ordinal(START) + 6, max_ticks=8, with_time=False)

    assert [name for _, name in ticks] == [f"Oct {day}" for day in range(27, 32)] + [
        "Nov 1",
        "Nov 2",
    ]


def test_it_ticks_mondays_within_a_quarter_and_months_beyond() -> None:
    weeks = time_ticks(ordinal(START), ordinal(START) + 90, max_ticks=8, with_time=False)
    months = time_ticks(ordinal(START), ordinal(START) + 365, max_ticks=8, with_time=False)

    assert all(date.fromordinal(int(at)).weekday() == 0 for at, _ in weeks)
    assert [name for _, name in months] == ["Nov 2026", "Jan 2027", "Mar", "May", "Jul", "Sep"]


def test_it_ticks_hours_within_a_day() -> None:
    morning = ordinal(START) + 6 / 24
    ticks = time_ticks(morning, morning + 0.5, max_ticks=8, with_time=True)

    assert [name for _, name in ticks] == [
        "06:00",
        "08:00",
        "10:00",
        "12:00",
        "14:00",
        "16:00",
        "18:00",
    ]
