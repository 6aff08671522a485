"""What the charts are drawn from: small frozen records the caller fills from its own queries.

Dates may be `date` or `datetime`; a datetime is placed by its wall-clock time, so pass the
datetimes of one chart in one timezone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Point:
    """One measurement; a value of None is a gap (no scan that day), never zero."""

    at: date
    value: float | None


@dataclass(frozen=True, slots=True)
class Series:
    """One line: `css_class` (e.g. "series-overall") styles it and picks its default colour."""

    name: str
    points: Sequence[Point]
    css_class: str = ""


@dataclass(frozen=True, slots=True)
class Marker:
    """An event drawn as a dashed vertical line; `kind` "upgrade" gives class `marker-upgrade`."""

    at: date
    label: str
    kind: str = "event"


@dataclass(frozen=True, slots=True)
class Category:
    """One stacked layer or grouped bar: `key` indexes `Bucket.values`, `label` is shown."""

    key: str
    label: str
    css_class: str = ""


@dataclass(frozen=True, slots=True)
class Bucket:
    """Counts per category for one day or week; a key missing from `values` counts as 0."""

    at: date
    values: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a bar chart; `title` replaces the default tooltip "label: value".

    Without a `css_class` a bar is `bar-positive` or, below zero, `bar-negative`.
    """

    label: str
    value: float
    css_class: str = ""
    title: str | None = None


SEVERITY_CATEGORIES: tuple[Category, ...] = (
    Category("critical", "Critical", "sev-critical"),
    Category("high", "High", "sev-high"),
    Category("medium", "Medium", "sev-medium"),
    Category("low", "Low", "sev-low"),
)
