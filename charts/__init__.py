"""Server-rendered SVG charts for the pages and the compliance PDFs, from one renderer.

A plain package, not a Django app: pure functions from small dataclasses to an `<svg>`
string that needs no JavaScript and passes a `style-src 'self'` Content-Security-Policy.
The caller marks the string safe (every label inside is already escaped).
"""

from charts.bars import bar_chart, grouped_bar_chart
from charts.inputs import SEVERITY_CATEGORIES, Bar, Bucket, Category, Marker, Point, Series
from charts.markup import EMPTY_MESSAGE
from charts.palette import PALETTE, colour_for
from charts.svg import line_chart, stacked_area_chart

__all__ = [
    "EMPTY_MESSAGE",
    "PALETTE",
    "SEVERITY_CATEGORIES",
    "Bar",
    "Bucket",
    "Category",
    "Marker",
    "Point",
    "Series",
    "bar_chart",
    "colour_for",
    "grouped_bar_chart",
    "line_chart",
    "stacked_area_chart",
]
