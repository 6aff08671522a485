"""SVG building blocks: escaping, compact numbers, the document frame, legend and hover layer.

Everything here emits markup as `str`. Text from users goes through `text()` or, inside an
attribute, `attribute()`; attributes are always double-quoted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from charts.palette import MUTED, TEXT

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
EMPTY_MESSAGE = "No data for this period"
FONT_FAMILY = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
FONT_SIZE = 11
# Average glyph width of the sans-serif at FONT_SIZE, to lay out labels without a font engine.
CHARACTER_WIDTH = FONT_SIZE * 0.56
LEGEND_ROW = 16
DASH = "\u2014"
ELLIPSIS = "\u2026"

# XML 1.0 forbids these code points even escaped: one in a cluster name must not make the
# page's SVG unparsable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")

Attributes = Mapping[str, str | float | None]


def text(value: str) -> str:
    """`value` escaped for element content."""
    return escape(_NOT_XML.sub("\ufffd", value))


def attribute(value: str) -> str:
    """`value` escaped for a double-quoted attribute."""
    return escape(_NOT_XML.sub("\ufffd", value), _ATTRIBUTE_ENTITIES)


def num(value: float) -> str:
    """A coordinate to one decimal, without a trailing ".0": a year of points stays small."""
    formatted = f"{value:.1f}"
    if formatted[-1] != "0":
        return formatted
    return "0" if formatted == "-0.0" else formatted[:-2]


def count(value: float) -> str:
    """A value as a person reads it: 3 rather than 3.0, 12.5 as is."""
    return num(value) if value != int(value) else str(int(value))


def tag(name: str, attributes: Attributes, content: str | None = None) -> str:
    """An element; `content` is markup, already escaped. None-valued attributes are left out."""
    parts = [name]
    for key, value in attributes.items():
        if value is None:
            continue
        rendered = attribute(value) if isinstance(value, str) else num(value)
        parts.append(f'{key}="{rendered}"')
    opening = " ".join(parts)
    return f"<{opening}/>" if content is None else f"<{opening}>{content}</{name}>"


def tooltip(value: str) -> str:
    return f"<title>{text(value)}</title>"


def label(x: float, y: float, value: str, *, anchor: str = "middle", css_class: str = "") -> str:
    """Text whose vertical centre is at `y`."""
    attributes: Attributes = {
        "class": css_class or None,
        "x": x,
        "y": y + FONT_SIZE * 0.35,
        "text-anchor": anchor,
    }
    return tag("text", attributes, text(value))


def text_width(value: str) -> float:
    return len(value) * CHARACTER_WIDTH


def truncate(value: str, width: float) -> str:
    """`value` cut with an ellipsis to fit about `width` pixels."""
    room = max(1, int(width / CHARACTER_WIDTH + 1e-6))
    return value if len(value) <= room else value[: room - 1] + ELLIPSIS


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def resolve_chart_id(chart_id: str | None, title: str) -> str:
    """The given id, or one derived from the title: readable slug plus a short hash."""
    if chart_id is not None:
        if not _CHART_ID.match(chart_id):
            raise ValueError(f"chart_id {chart_id!r} is not a valid XML id")
        return chart_id
    digest = hashlib.sha256(title.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"chart-{slug(title)[:32].strip('-') or 'untitled'}-{digest}"


def check_size(width: int, height: int) -> None:
    if width < 120 or height < 80:
        raise ValueError(f"a chart needs at least 120x80 pixels, not {width}x{height}")


def document(
    *, kind: str, chart_id: str, title: str, summary: str, width: int, height: int, body: str
) -> str:
    """The root element: an image named by its title and described by `summary`."""
    attributes: Attributes = {
        "xmlns": SVG_NAMESPACE,
        "class": f"chart chart-{kind}",
        "id": chart_id,
        "viewBox": f"0 0 {width} {height}",
        # Fills its container and keeps the viewBox's aspect ratio: the drawing is laid out
        # for `width` pixels and scales with the card, on a page or in a PDF.
        "width": "100%",
        "preserveAspectRatio": "xMidYMid meet",
        "role": "img",
        "aria-labelledby": f"{chart_id}-title",
        "aria-describedby": f"{chart_id}-desc",
        "font-family": FONT_FAMILY,
        "font-size": FONT_SIZE,
        "fill": TEXT,
    }
    head = (
        f'<title id="{chart_id}-title">{text(title)}</title>'
        f'<desc id="{chart_id}-desc">{text(summary)}</desc>'
    )
    return tag("svg", attributes, head + body)


def empty_chart(*, kind: str, chart_id: str, title: str, width: int, height: int) -> str:
    message = label(width / 2, height / 2, EMPTY_MESSAGE, css_class="chart-empty")
    return document(
        kind=kind,
        chart_id=chart_id,
        title=title,
        summary=f"{EMPTY_MESSAGE}.",
        width=width,
        height=height,
        body=tag("g", {"fill": MUTED}, message),
    )


@dataclass(frozen=True, slots=True)
class LegendEntry:
    label: str
    css_class: str
    colour: str


def legend(
    entries: Sequence[LegendEntry], *, left: float, top: float, right: float
) -> tuple[str, int]:
    """Swatches and names in rows that wrap at `right`; returns the markup and the row count."""
    if not entries:
        return "", 0
    parts: list[str] = []
    x, row = left, 0
    for entry in entries:
        name = truncate(entry.label, 200)
        entry_width = 14 + text_width(name) + 12
        if x > left and x + entry_width > right:
            x, row = left, row + 1
        y = top + row * LEGEND_ROW
        swatch = {"class": f"legend-swatch {entry.css_class}".strip(), "fill": entry.colour}
        parts.append(tag("rect", {**swatch, "x": x, "y": y + 1, "width": 10, "height": 10}))
        parts.append(label(x + 14, y + 6, name, anchor="start"))
        x += entry_width
    return tag("g", {"class": "chart-legend"}, "".join(parts)), row + 1


@dataclass(frozen=True, slots=True)
class HoverTarget:
    """An invisible box over part of the plot carrying a tooltip."""

    left: float
    top: float
    right: float
    bottom: float
    label: str


def hover_layer(targets: Sequence[HoverTarget]) -> str:
    """Transparent boxes on top of the plot; `fill-opacity` 0 still receives the pointer."""
    boxes = "".join(
        f'<path d="M{num(t.left)} {num(t.top)}H{num(t.right)}V{num(t.bottom)}H{num(t.left)}z">'
        f"{tooltip(t.label)}</path>"
        for t in targets
    )
    return tag("g", {"class": "chart-hover", "fill": "#000", "fill-opacity": 0}, boxes)
