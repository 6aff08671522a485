"""Issue 13's four chart faults, read back from the SVG: the chart fills its card, event
labels neither overlap nor lose their words needlessly in a year, the two percentiles differ,
and the bars of a period share the line charts' time axis."""

from __future__ import annotations

from datetime import date, timedelta

from charts import Bucket, Marker, Point, Series, grouped_bar_chart, line_chart, stacked_area_chart
from charts.axes import day_number
from charts.markup import text_width
from charts.palette import colour_for
from charts.tests.svg_reading import OPENED_RESOLVED, elements, overall, parse, with_class

YEAR_START = date(2025, 12, 3)
YEAR_END = date(2026, 12, 2)
WIDTH = 1120


def year_of_weeks(value: float = 60.0) -> list[Point]:
    return [Point(YEAR_START + timedelta(days=7 * week), value) for week in range(53)]


def test_it_scales_to_its_container_and_keeps_its_aspect_ratio() -> None:
    root = parse(line_chart(title="Score", series=[overall(80, 81)], width=WIDTH, height=300))
    assert root.get("width") == "100%"
    assert root.get("height") is None  # from the viewBox's ratio, so it never letterboxes
    assert root.get("viewBox") == f"0 0 {WIDTH} 300"
    assert root.get("preserveAspectRatio") == "xMidYMid meet"


def captions(root) -> list[tuple[float, float, float, str]]:
    """(left, right, y, text) of each marker label, from its anchor and estimated width."""
    boxes = []
    for marker in with_class(root, "g", "chart-marker"):
        for text in elements(marker, "text"):
            x, y, value = float(text.get("x", "0")), float(text.get("y", "0")), text.text or ""
            width = text_width(value)
            left = x if text.get("text-anchor") == "start" else x - width
            boxes.append((left, left + width, y, value))
    return boxes


def test_it_labels_a_years_events_in_full_without_overlap() -> None:
    markers = [
        Marker(date(2026, 3, 11), "Upgraded to v1.34.6-gke.1125000", "upgrade"),
        Marker(date(2026, 3, 18), "Waiver approved: network.exposed_services", "waiver"),
        Marker(date(2026, 3, 25), "Upgraded to v1.35.2-gke.1234000", "upgrade"),
        Marker(date(2026, 6, 24), "Upgraded to v1.35.3-gke.1000000", "upgrade"),
        Marker(date(2026, 11, 30), "Waiver approved: workloads.privileged", "waiver"),
    ]
    root = parse(
        line_chart(
            title="Score",
            series=[Series("Score", year_of_weeks(), "series-overall")],
            markers=markers,
            width=WIDTH,
            height=300,
            x_start=YEAR_START,
            x_end=YEAR_END,
        )
    )
    boxes = captions(root)
    assert sorted(text for *_, text in boxes) == sorted(marker.label for marker in markers)
    for index, (left, right, y, _) in enumerate(boxes):
        assert left >= 0 and right <= WIDTH
        for other_left, other_right, other_y, _ in boxes[index + 1 :]:
            assert y != other_y or right <= other_left or other_right <= left
    # Three events a week apart need three rows; every one keeps its tooltip.
    assert len({y for *_, y, _ in boxes}) == 3
    assert len(with_class(root, "g", "chart-marker")) == len(markers)


def test_it_thins_labels_of_events_too_close_to_tell_apart() -> None:
    markers = [
        Marker(YEAR_START + timedelta(days=day), f"Daily event number {day}", "event")
        for day in range(0, 60)
    ]
    root = parse(
        line_chart(
            title="Score",
            series=[Series("Score", year_of_weeks(), "series-overall")],
            markers=markers,
            width=WIDTH,
            height=300,
            x_start=YEAR_START,
            x_end=YEAR_END,
        )
    )
    boxes = captions(root)
    assert 0 < len(boxes) < len(markers)
    for index, (left, right, y, _) in enumerate(boxes):
        for other_left, other_right, other_y, _ in boxes[index + 1 :]:
            assert y != other_y or right <= other_left or other_right <= left
    titles = [title.text or "" for title in elements(root, "title")]
    assert all(any(marker.label in title for title in titles) for marker in markers)


def test_it_draws_the_two_percentiles_in_distinct_colours_with_a_legend() -> None:
    series = [
        Series("Median", year_of_weeks(50), "series-median"),
        Series("10th percentile", year_of_weeks(30), "series-p10"),
        Series("90th percentile", year_of_weeks(80), "series-p90"),
    ]
    root = parse(line_chart(title="Fleet score", series=series, width=WIDTH, height=300))
    strokes = {}
    for group in with_class(root, "g", "chart-series"):
        css = group.get("class", "").split()[-1]
        (line,) = with_class(group, "polyline", "chart-line")
        strokes[css] = line.get("stroke")
    assert len({strokes["series-p10"], strokes["series-p90"], strokes["series-median"]}) == 3
    legend = {
        swatch.get("class", "").split()[-1]: swatch.get("fill")
        for swatch in with_class(root, "rect", "legend-swatch")
    }
    assert legend["series-p10"] == colour_for("series-p10") == strokes["series-p10"]
    assert legend["series-p90"] == colour_for("series-p90") == strokes["series-p90"]
    legend_text = [text.text for text in elements(root, "text")]
    assert "10th percentile" in legend_text and "90th percentile" in legend_text


def tick_labels(root) -> list[tuple[str, float]]:
    # The time axis's labels sit on one line; the value axis's are stacked.
    (labels,) = [
        group
        for group in with_class(root, "g", "chart-axis-labels")
        if len({text.get("y") for text in elements(group, "text")}) == 1
    ]
    return [(text.text or "", float(text.get("x", "0"))) for text in elements(labels, "text")]


def test_weekly_bars_share_the_line_charts_time_axis() -> None:
    # Weeks start on Monday, 2025-12-01, two days before the period: the bars must not.
    weeks = [
        Bucket(date(2025, 12, 1) + timedelta(days=7 * week), {"opened": 2, "resolved": 1})
        for week in range(53)
    ]
    bars = parse(
        grouped_bar_chart(
            title="Opened and resolved",
            buckets=weeks,
            categories=OPENED_RESOLVED,
            width=WIDTH,
            height=300,
            y_label="Findings",
            x_start=YEAR_START,
            x_end=YEAR_END,
            bucket_days=7,
        )
    )
    line = parse(
        line_chart(
            title="Score",
            series=[Series("Score", year_of_weeks(), "series-overall")],
            width=WIDTH,
            height=300,
            y_label="Score",
            x_start=YEAR_START,
            x_end=YEAR_END,
        )
    )
    assert tick_labels(bars) == tick_labels(line)
    assert tick_labels(bars)[0][0] != "Dec 1"
    # The first (clipped) week starts at the plot's left edge, not before it.
    rects = [r for g in with_class(bars, "g", "chart-bars") for r in elements(g, "rect")]
    assert min(float(r.get("x", "0")) for r in rects) >= 60  # left_margin("Findings")


def test_stacked_areas_span_the_period_asked_for() -> None:
    counts = [Bucket(YEAR_START + timedelta(days=6 + 7 * w), {"high": 3}) for w in range(52)]
    stacked = parse(
        stacked_area_chart(
            title="Open findings",
            buckets=counts,
            width=WIDTH,
            height=300,
            y_label="Findings",
            x_start=YEAR_START,
            x_end=YEAR_END,
        )
    )
    line = parse(
        line_chart(
            title="Score",
            series=[Series("Score", year_of_weeks(), "series-overall")],
            width=WIDTH,
            height=300,
            y_label="Score",
            x_start=YEAR_START,
            x_end=YEAR_END,
        )
    )
    assert tick_labels(stacked) == tick_labels(line)
    assert day_number(YEAR_START) < day_number(counts[0].at)
