"""Small factories and XML readers shared by the chart renderer's tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from charts import (
    Bucket,
    Category,
    Point,
    Series,
)

NS = "{http://www.w3.org/2000/svg}"
START = date(2026, 10, 27)
HOSTILE = "<script>alert(1)</script> O\"Neil & Co's"
OPENED_RESOLVED = (
    Category("opened", "Opened", "series-opened"),
    Category("resolved", "Resolved", "series-resolved"),
)


def daily(*values: float | None, start: date = START) -> list[Point]:
    return [Point(start + timedelta(days=offset), value) for offset, value in enumerate(values)]


def overall(*values: float | None) -> Series:
    return Series("Overall", daily(*values), "series-overall")


def buckets(*rows: dict[str, int], step: timedelta = timedelta(days=1)) -> list[Bucket]:
    return [Bucket(START + offset * step, row) for offset, row in enumerate(rows)]


def parse(markup: str) -> ET.Element:
    """Fails the test unless the markup is well-formed XML."""
    return ET.fromstring(markup)  # noqa: S314 (our own output, which is what is under test)


def elements(root: ET.Element, tag: str) -> list[ET.Element]:
    return list(root.iter(NS + tag))


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def with_class(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [element for element in elements(root, tag) if css_class in classes(element)]


def tooltips(root: ET.Element) -> list[str]:
    """Every <title> but the chart's own."""
    return [title.text or "" for title in elements(root, "title")[1:]]


def texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in elements(root, "text")]


def polyline_points(polyline: ET.Element) -> list[tuple[float, float]]:
    pairs = (pair.split(",") for pair in polyline.get("points", "").split())
    return [(float(x), float(y)) for x, y in pairs]


def description(root: ET.Element) -> str:
    return elements(root, "desc")[0].text or ""
