"""Read side of the drift page: every check's latest verdict on every cluster, side by side.

Rows are checks, columns clusters grouped by environment, so "passes in staging, fails in
production" reads across a row. Verdicts come from each cluster's latest VerdictSet.statuses
(the stored effective verdict), a small JSON map, so the whole filtered fleet is read in one
query: for 1,000 clusters by ~70 checks that is a few megabytes at most and well within what
Python sorts in milliseconds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from django.core.paginator import Page, Paginator
from django.urls import reverse

from clusters.models import Cluster
from posture.checks.base import REGISTRY, Area, Severity
from posture.status import Status

PAGE_SIZE = 40  # clusters per page: a wide screen still shows each column's symbol and word
DISAGREE = "disagree"
ALL = "all"
ONLY_CHOICES = ((DISAGREE, "Checks where clusters disagree"), (ALL, "All checks"))
NO_ENVIRONMENT = "no environment"
# A symbol beside every word, so the verdict never rests on colour alone.
SYMBOLS = {
    "pass": "✓",
    "fail": "✗",
    "unknown": "?",
    "not_applicable": "–",  # noqa: RUF001  (an en dash on purpose: "nothing to judge")
    "error": "!",
    "waived": "≈",
}
MISSING_SYMBOL = "·"
MISSING_LABEL = "Not evaluated"


@dataclass(frozen=True)
class DriftFilters:
    environment: str = ""
    area: str = ""
    only: str = DISAGREE

    @classmethod
    def from_query(cls, query: Mapping[str, str], *, environments: Sequence[str]) -> DriftFilters:
        """Filters from the query string; a value the page does not offer falls back to all."""
        environment = query.get("environment", "")
        area = query.get("area", "")
        only = query.get("only", DISAGREE)
        return cls(
            environment=environment if environment in environments else "",
            area=area if area in {a.value for a in Area} else "",
            only=only if only in (DISAGREE, ALL) else DISAGREE,
        )


@dataclass(frozen=True)
class Column:
    name: str
    environment: str
    statuses: dict[str, str]
    starts_group: bool = False

    @property
    def environment_label(self) -> str:
        return self.environment or NO_ENVIRONMENT


@dataclass(frozen=True)
class Cell:
    status: str
    href: str
    starts_group: bool = False  # first column of an environment: the stylesheet draws a rule

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.status, MISSING_SYMBOL if not self.status else "•")

    @property
    def label(self) -> str:
        if not self.status:
            return MISSING_LABEL
        return Status.label_of(self.status)


@dataclass(frozen=True)
class EnvironmentTally:
    environment: str
    failing: int
    total: int


@dataclass
class Row:
    check_id: str
    title: str
    area_label: str
    severity: str
    counts: Counter[str]
    environments: list[EnvironmentTally]
    cells: list[Cell] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failing(self) -> int:
        return self.counts["fail"]

    @property
    def passing(self) -> int:
        return self.counts["pass"]

    @property
    def disagrees(self) -> bool:
        return self.passing > 0 and self.failing > 0

    @property
    def divided(self) -> float:
        """0 when every judged cluster agrees, 0.5 when they split evenly."""
        judged = self.passing + self.failing
        return min(self.passing, self.failing) / judged if judged else 0.0

    @property
    def summary(self) -> str:
        """`fails in 3 of 12 (production: 3/5)`, plus what could not be judged."""
        text = f"fails in {self.failing} of {self.total}"
        where = [f"{e.environment}: {e.failing}/{e.total}" for e in self.environments if e.failing]
        if where:
            text += f" ({', '.join(where)})"
        unjudged = self.total - self.passing - self.failing
        if unjudged:
            text += f"; not judged on {unjudged}"
        return text


@dataclass(frozen=True)
class Group:
    environment: str
    span: int


@dataclass
class DriftMatrix:
    filters: DriftFilters
    rows: list[Row]
    page: Page[Column]
    columns: list[Column]  # this page's, each marked where its environment starts
    groups: list[Group]
    clusters: int  # evaluated clusters the filters keep, on every page
    unevaluated: int  # clusters the filters keep that have no evaluation yet
    checks: int  # checks with a verdict anywhere, before the disagree filter


def _severity_rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def drift_matrix(*, filters: DriftFilters, page_number: Any = None) -> DriftMatrix:
    """The check-by-cluster matrix for the filtered fleet, in one query whatever its size."""
    clusters = Cluster.objects.order_by("environment", "name")
    if filters.environment:
        clusters = clusters.filter(environment=filters.environment)
    fleet = list(
        clusters.values_list("name", "environment", "latest_evaluation__verdict_set__statuses")
    )
    columns = [Column(name, env, statuses) for name, env, statuses in fleet if statuses is not None]
    rows = _rows(columns, area=filters.area)
    checks = len(rows)
    if filters.only == DISAGREE:
        rows = [row for row in rows if row.disagrees]
    rows.sort(key=lambda r: (-r.divided, -_severity_rank(r.severity), -r.failing, r.title))
    page = Paginator(columns, PAGE_SIZE).get_page(page_number)
    page_columns = _marking_groups(list(page.object_list))
    # One reverse per column instead of one per cell: a page is up to 40 x ~70 links.
    prefixes = [
        reverse("check_detail", kwargs={"name": c.name, "check_id": "x"}).removesuffix("x/")
        for c in page_columns
    ]
    for row in rows:
        check = quote(row.check_id, safe="")
        row.cells = [
            Cell(column.statuses.get(row.check_id, ""), f"{prefix}{check}/", column.starts_group)
            for column, prefix in zip(page_columns, prefixes, strict=True)
        ]
    return DriftMatrix(
        filters=filters,
        rows=rows,
        page=page,
        columns=page_columns,
        groups=_groups(page_columns),
        clusters=len(columns),
        unevaluated=len(fleet) - len(columns),
        checks=checks,
    )


def _rows(columns: list[Column], *, area: str) -> list[Row]:
    """One row per check some cluster has a verdict for, tallied across every column."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    per_environment: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for column in columns:
        environment = column.environment_label
        for check_id, status in column.statuses.items():
            counts[check_id][status] += 1
            failing_total = per_environment[check_id].setdefault(environment, [0, 0])
            failing_total[0] += status == "fail"
            failing_total[1] += 1
    rows = []
    for check_id, tally in counts.items():
        check = REGISTRY.get(check_id)
        if area and (check is None or check.area.value != area):
            continue
        rows.append(
            Row(
                check_id=check_id,
                title=check.title if check else check_id,
                area_label=check.area.label if check else "",
                severity=check.severity.value if check else Severity.INFO.value,
                counts=tally,
                environments=[
                    EnvironmentTally(environment, failing, total)
                    for environment, (failing, total) in sorted(per_environment[check_id].items())
                ],
            )
        )
    return rows


def _marking_groups(columns: list[Column]) -> list[Column]:
    return [
        replace(
            column, starts_group=index == 0 or column.environment != columns[index - 1].environment
        )
        for index, column in enumerate(columns)
    ]


def _groups(columns: list[Column]) -> list[Group]:
    """Runs of same-environment columns on this page, for the header spanning them."""
    groups: list[Group] = []
    for column in columns:
        if groups and groups[-1].environment == column.environment_label:
            groups[-1] = Group(column.environment_label, groups[-1].span + 1)
        else:
            groups.append(Group(column.environment_label, 1))
    return groups
