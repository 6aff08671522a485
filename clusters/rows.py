"""Rows of the cluster pages' tables, formatted in Python rather than in templates.

The fleet table (50 rows), the collection history (20 runs x ~25 kinds) and the affected
objects of dozens of failing checks are where template includes, filters and {% url %} cost
most of a page's time (issue 5). Every value is escaped here; the output is what the
templates printed.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast
from urllib.parse import quote

from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.timezone import localtime

from clusters.models import Cluster, CollectionRun

RUN_STATUS_LABELS = dict(CollectionRun.Status.choices)
_PLACEHOLDER = "PLACEHOLDER"  # a valid slug and str path argument
_URL_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what reverse() leaves unquoted


def decimal_text(value: float, places: int) -> str:
    """`value|floatformat:places` (places >= 0) at a tenth of the template filter's cost."""
    if not math.isfinite(value):
        return str(floatformat(value, places))
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    # floatformat never shows a minus on zero: -0.04 is "0.0", not "-0.0".
    return f"{rounded if rounded else rounded.copy_abs():f}"


def score_band(score: float | None) -> str:
    """The badge colour of a score, as clusters/_score.html chooses it."""
    if score is None:
        return "none"
    return "good" if score >= 90 else "fair" if score >= 70 else "poor"


def fleet_rows(clusters: Iterable[Cluster]) -> list[dict[str, Any]]:
    """What each row of the fleet table shows, formatted here rather than in the template.

    A page has 50 rows; per row, the template engine's includes, filters and {% url %} cost
    several times the plain Python below (issue 5), and the output is the same.
    """
    cluster_url = url_for_each("cluster_detail", "name")
    rows = []
    for cluster in clusters:
        evaluation, run = cluster.latest_evaluation, cluster.latest_run
        score = evaluation.score if evaluation else None
        change = cast(float | None, getattr(cluster, "score_change", None))
        if change is None:
            change_class, change_text = "muted", "—"
        elif change > 0:
            change_class, change_text = "change-up", f"▲ +{decimal_text(change, 1)}"
        elif change < 0:
            change_class, change_text = "change-down", f"▼ {decimal_text(change, 1)}"
        else:
            change_class, change_text = "muted", "no change"
        collected = localtime(evaluation.created_at) if evaluation else None
        run_status, run_label = (
            (run.status, RUN_STATUS_LABELS.get(run.status, run.status))
            if run
            else ("none", "Never collected")
        )
        rows.append(
            {
                "name": cluster.name,
                "url": cluster_url(cluster.name),
                "environment": cluster.environment or "—",
                "score_band": score_band(score),
                "score": "no score" if score is None else decimal_text(score, 1),
                "change_class": change_class,
                "change": change_text,
                "coverage": f"{decimal_text(evaluation.coverage, 0)}%" if evaluation else "—",
                "collected_at": collected.isoformat() if collected else "",
                "collected_ago": timesince(collected) if collected else "",
                "run_status": run_status,
                "run_label": run_label,
            }
        )
    return rows


def url_for_each(view: str, key: str, **kwargs: str) -> Callable[[str], str]:
    """reverse(view) for many values of its last argument `key`, at the cost of one reverse().

    A reverse() per row costs more than rendering the rest of the row (issue 5). Values are
    quoted as reverse() quotes them.
    """
    before, _, after = reverse(view, kwargs={**kwargs, key: _PLACEHOLDER}).rpartition(_PLACEHOLDER)
    return lambda value: f"{before}{quote(value, safe=_URL_SAFE)}{after}"


def run_row(run: CollectionRun) -> dict[str, Any]:
    """One row of the collection history, formatted here: 20 rows of ~25 kinds each would
    otherwise be ~500 template loop iterations, most of the cluster page's rendering time."""
    created = localtime(run.created_at)
    started = localtime(run.started_at) if run.started_at else None
    return {
        "run": run,
        "status_label": RUN_STATUS_LABELS.get(run.status, run.status),
        "created_at": created.isoformat(),
        "created_text": created.strftime("%Y-%m-%d %H:%M"),
        "started_at": started.isoformat() if started else "",
        "started_text": started.strftime("%Y-%m-%d %H:%M:%S") if started else "",
        "objects": sum(v for v in run.object_counts.values() if isinstance(v, int)),
        # Counts are ints, so str() is what the template's localize() printed; this runs ~500
        # times a page and format_html() would cost ten times as much.
        "object_counts": mark_safe(  # noqa: S308  (every value is escaped)
            "".join(
                f"<li>{html.escape(str(kind))}: {html.escape(str(count))}</li>"
                for kind, count in run.object_counts.items()
            )
        ),
        "duration": duration_text(run.duration),
    }


def duration_text(duration: timedelta | None) -> str:
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def references_html(references: list[dict[str, str]]) -> str:
    """A check's references as `_check.html` lists them; ~200 a page, so without format_html()."""
    return mark_safe(  # noqa: S308  (every value is escaped)
        "; ".join(
            f'<span class="ref">{html.escape(ref["guide_label"])} {html.escape(ref["id"])}'
            + (f" ({html.escape(ref['version'])})" if ref.get("version") else "")
            + "</span>"
            for ref in references
        )
    )


def affected_rows_html(objects: list[dict[str, Any]]) -> str:
    """`_check.html`'s table rows: up to 20 for each of dozens of failing checks, so built here
    (escaped) rather than looped over by the template at four times the cost."""

    def cell(value: Any) -> str:
        return f"<td>{html.escape(str(value))}</td>"

    return mark_safe(  # noqa: S308  (every value is escaped)
        "".join(
            "<tr>"
            + cell(obj.get("kind", ""))
            + cell(obj.get("namespace") or "—")
            + cell(obj.get("name", ""))
            + cell(obj.get("detail", ""))
            + "</tr>"
            for obj in objects
        )
    )
