"""The chart renderer read back as XML: what screen readers, browsers under CSP and PDFs see."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from charts import (
    EMPTY_MESSAGE,
    SEVERITY_CATEGORIES,
    Bar,
    Category,
    Marker,
    Point,
    Series,
    bar_chart,
    grouped_bar_chart,
    line_chart,
    stacked_area_chart,
)
from charts.tests.svg_reading import (
    HOSTILE,
    NS,
    OPENED_RESOLVED,
    START,
    buckets,
    classes,
    daily,
    description,
    elements,
    overall,
    parse,
    polyline_points,
    texts,
    tooltips,
    with_class,
)

# One of each chart kind, over ordinary data, for the checks every chart must pass.
EVERY_KIND: dict[str, Callable[[str], str]] = {
    "line": lambda name: line_chart(
        title=name,
        series=[Series(name, daily(80, None, 85), "series-overall")],
        markers=[Marker(START + timedelta(days=1), name, "upgrade")],
        y_label=name,
    ),
    "stacked": lambda name: stacked_area_chart(
        title=name,
        buckets=buckets({"critical": 1, "high": 2}, {"critical": 0, "high": 3}),
        categories=[Category("critical", name, "sev-critical"), SEVERITY_CATEGORIES[1]],
    ),
    "grouped": lambda name: grouped_bar_chart(
        title=name,
        buckets=buckets({"opened": 4, "resolved": 2}, {"opened": 1, "resolved": 5}),
        categories=[Category("opened", name, "series-opened"), OPENED_RESOLVED[1]],
    ),
    "bar": lambda name: bar_chart(
        title=name, bars=[Bar(name, -3.5), Bar("dev", 2)], value_label=name
    ),
    "horizontal bar": lambda name: bar_chart(
        title=name, bars=[Bar(name, -3.5), Bar("dev", 2)], orientation="horizontal"
    ),
}


# --- what every chart promises ------------------------------------------------------------------


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_it_names_and_describes_every_chart_for_assistive_technology(kind: str) -> None:
    root = parse(EVERY_KIND[kind]("Fleet posture"))

    assert root.tag == NS + "svg"
    assert root.get("role") == "img"
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", ""))
    title, desc = elements(root, "title")[0], elements(root, "desc")[0]
    assert title.text == "Fleet posture"
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("aria-describedby") == desc.get("id")
    assert desc.text


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_it_needs_no_inline_style_script_or_external_reference(kind: str) -> None:
    markup = EVERY_KIND[kind]("Fleet posture")

    assert "style=" not in markup
    assert "<style" not in markup
    assert "<script" not in markup
    for element in parse(markup).iter():
        assert not [name for name in element.attrib if name.lower().startswith("on")]
        assert not [name for name in element.attrib if name.endswith("href")]


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_it_escapes_hostile_labels_everywhere(kind: str) -> None:
    markup = EVERY_KIND[kind](HOSTILE)
    root = parse(markup)

    assert "<script" not in markup
    assert not list(root.iter(NS + "script"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert elements(root, "title")[0].text == HOSTILE
    assert HOSTILE in description(root)
    assert any(HOSTILE in tip for tip in tooltips(root))
    assert any(shown.startswith("<script>") for shown in texts(root))  # cut to fit, still text


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_it_renders_the_same_bytes_for_the_same_input(kind: str) -> None:
    assert EVERY_KIND[kind]("Fleet posture") == EVERY_KIND[kind]("Fleet posture")


def test_it_loads_without_django() -> None:
    """The renderer stays a pure module: quick to import in a worker, testable on its own."""
    probe = "import sys, charts; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


def test_it_keeps_xml_valid_when_a_label_carries_control_characters() -> None:
    root = parse(line_chart(title="bad\x00\x1bname", series=[Series("a\x0bb", daily(50))]))

    assert elements(root, "title")[0].text == "bad\ufffd\ufffdname"


def test_it_derives_a_stable_readable_id_from_the_title() -> None:
    first = parse(line_chart(title="Overall score", series=[overall(80)]))
    again = parse(line_chart(title="Overall score", series=[overall(60)]))
    other = parse(line_chart(title="Coverage", series=[overall(80)]))

    assert first.get("id") == again.get("id")
    assert re.fullmatch(r"chart-overall-score-[0-9a-f]{6}", first.get("id", ""))
    assert first.get("id") != other.get("id")
    assert elements(first, "title")[0].get("id") == f"{first.get('id')}-title"


def test_it_takes_a_chart_id_to_keep_two_charts_on_a_page_apart() -> None:
    root = parse(line_chart(title="Score", series=[overall(80)], chart_id="cluster-7-score"))

    assert root.get("aria-labelledby") == "cluster-7-score-title"
    with pytest.raises(ValueError, match="not a valid XML id"):
        line_chart(title="Score", series=[overall(80)], chart_id='x" onload="alert(1)')


def test_it_colours_by_class_with_presentation_attributes_the_pdf_honours() -> None:
    root = parse(EVERY_KIND["stacked"]("Open findings"))

    (critical,) = with_class(root, "polygon", "sev-critical")
    assert critical.get("fill") == "#7f1d1d"
    assert with_class(root, "polygon", "sev-high")[0].get("fill") == "#dc2626"


# --- empty and degenerate input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        lambda: line_chart(title="Score", series=[]),
        lambda: line_chart(title="Score", series=[overall(None, None)]),
        lambda: line_chart(title="Score", series=[overall(float("nan"))]),
        lambda: line_chart(
            title="Score", series=[overall(80)], x_start=date(2027, 1, 1), x_end=date(2027, 2, 1)
        ),
        lambda: stacked_area_chart(title="Open findings", buckets=[]),
        lambda: grouped_bar_chart(title="Flow", buckets=[], categories=OPENED_RESOLVED),
        lambda: bar_chart(title="Distribution", bars=[]),
    ],
)
def test_it_says_so_when_there_is_no_data(render: Callable[[], str]) -> None:
    root = parse(render())

    assert texts(root) == [EMPTY_MESSAGE]
    assert description(root) == f"{EMPTY_MESSAGE}."


@pytest.mark.parametrize(
    "render",
    [
        lambda: line_chart(title="Score", series=[overall(87.5)]),
        lambda: line_chart(title="Score", series=[overall(50, 50)], y_min=50, y_max=50),
        lambda: line_chart(
            title="Score",
            series=[Series("Score", [Point(datetime(2026, 11, 20, 9, 30), 70)])],
            markers=[Marker(datetime(2026, 11, 20, 9, 30), "Upgrade")],
        ),
        lambda: stacked_area_chart(title="Open findings", buckets=buckets({"critical": 2})),
        lambda: stacked_area_chart(title="Open findings", buckets=buckets({}, {})),
        lambda: grouped_bar_chart(
            title="Flow", buckets=buckets({"opened": 0}), categories=OPENED_RESOLVED
        ),
        lambda: bar_chart(title="Distribution", bars=[Bar("0-10", 0)]),
        lambda: bar_chart(title="Movers", bars=[Bar("x", float("inf"))], orientation="horizontal"),
    ],
)
def test_it_draws_degenerate_data_without_dividing_by_zero(render: Callable[[], str]) -> None:
    markup = render()

    parse(markup)
    assert "nan" not in markup.lower()
    assert "inf" not in markup.lower()


def test_it_centres_a_single_point_and_gives_it_a_tooltip() -> None:
    root = parse(line_chart(title="Score", series=[overall(87.5)], width=640))

    (dot,) = elements(root, "circle")
    assert 300 < float(dot.get("cx", "0")) < 360
    assert tooltips(root) == ["2026-10-27 \u2014 Overall: 87.5"]


# --- line chart ---------------------------------------------------------------------------------


def test_it_breaks_the_line_at_a_gap_instead_of_drawing_zero() -> None:
    root = parse(line_chart(title="Score", series=[overall(80, 82, None, 84, 86, 88)]))

    first, second = with_class(root, "polyline", "chart-line")
    assert len(polyline_points(first)) == 2
    assert len(polyline_points(second)) == 3
    assert polyline_points(first)[-1][0] < polyline_points(second)[0][0]
    assert len(elements(root, "circle")) == 5
    assert not [tip for tip in tooltips(root) if tip.startswith("2026-10-29")]


def test_it_shows_a_lone_value_between_gaps_as_a_dot() -> None:
    root = parse(line_chart(title="Score", series=[overall(None, 70, None)]))

    assert not elements(root, "polyline")
    assert len(elements(root, "circle")) == 1


def test_it_tooltips_and_summarises_each_series() -> None:
    scores = overall(71, 90, 87.5)
    root = parse(line_chart(title="Overall score", series=[scores, Series("Network", daily())]))

    assert tooltips(root) == [
        "2026-10-27 \u2014 Overall: 71.0",
        "2026-10-28 \u2014 Overall: 90.0",
        "2026-10-29 \u2014 Overall: 87.5",
    ]
    assert description(root) == (
        "Overall from 2026-10-27 to 2026-10-29: latest 87.5, lowest 71.0, highest 90.0. "
        "Network: no data."
    )
    assert {"Overall", "Network"} <= set(texts(root))


def test_it_draws_values_beyond_the_axis_at_its_edge_but_reports_them_exactly() -> None:
    root = parse(line_chart(title="Score", series=[overall(120, -5)]))

    top, bottom = (float(dot.get("cy", "0")) for dot in elements(root, "circle"))
    assert "100" in texts(root)
    assert top < bottom
    assert tooltips(root) == ["2026-10-27 \u2014 Overall: 120.0", "2026-10-28 \u2014 Overall: -5.0"]


def test_it_draws_markers_with_their_label_and_tooltip() -> None:
    markers = [
        Marker(START + timedelta(days=1), "Upgrade to 1.31", "upgrade"),
        Marker(START + timedelta(days=2), "Waiver: CVE-2026-1", "Waiver"),
        Marker(START + timedelta(days=40), "Outside the period", "upgrade"),
    ]
    root = parse(line_chart(title="Score", series=[overall(80, 81, 82)], markers=markers))

    upgrade, waiver = with_class(root, "g", "chart-marker")
    assert "marker-upgrade" in classes(upgrade)
    assert "marker-waiver" in classes(waiver)
    assert elements(upgrade, "title")[0].text == "2026-10-28 \u2014 Upgrade to 1.31"
    assert [text.text for text in elements(upgrade, "text")] == ["Upgrade to 1.31"]
    (line,) = with_class(upgrade, "path", "marker-line")
    assert line.get("stroke-dasharray")
    assert "Markers: 2026-10-28 Upgrade to 1.31; 2026-10-29 Waiver: CVE-2026-1." in description(
        root
    )


def test_it_keeps_only_points_inside_the_requested_period() -> None:
    root = parse(
        line_chart(
            title="Score",
            series=[overall(10, 20, 30, 40)],
            x_start=START + timedelta(days=1),
            x_end=START + timedelta(days=2),
        )
    )

    assert len(elements(root, "circle")) == 2
    assert "lowest 20.0, highest 30.0" in description(root)


def test_it_renders_a_year_of_four_series_lightly() -> None:
    year = [
        Series(name, daily(*[(day * 7 + index) % 100 for day in range(365)]), f"series-{name}")
        for index, name in enumerate(["overall", "patching", "network", "access"])
    ]
    root = parse(line_chart(title="Posture this year", series=year))

    lines = with_class(root, "polyline", "chart-line")
    assert [len(polyline_points(line)) for line in lines] == [365] * 4
    assert not elements(root, "circle")
    (hover,) = with_class(root, "g", "chart-hover")
    assert 90 <= len(elements(hover, "path")) <= 120
    assert elements(hover, "title")[-1].text == (
        "2027-10-26 \u2014 overall: 48.0, patching: 49.0, network: 50.0, access: 51.0"
    )


def test_it_keeps_a_year_of_six_series_under_sixty_kilobytes() -> None:
    year = [
        Series(f"Area {index}", daily(*[50 + (day % 50) + 0.25 for day in range(365)]))
        for index in range(6)
    ]
    markup = line_chart(title="Posture this year", series=year)

    assert len(markup.encode()) < 60_000


def test_it_draws_for_print_without_tooltips_hover_strips_or_circles() -> None:
    week = Series("Score", daily(70, 71, None, 72, None, 74, 75), "series-overall")
    year = Series("Coverage", daily(*[90.0] * 365), "series-coverage")
    for series in (week, year):
        root = parse(line_chart(title="Trend", series=[series], interactive=False))

        assert not tooltips(root)
        assert not with_class(root, "g", "chart-hover")
        assert polyline_points(with_class(root, "polyline", "chart-line")[0])
    lone = parse(line_chart(title="Trend", series=[week], interactive=False))
    assert len(elements(lone, "circle")) == 1  # 72 between two gaps still shows
