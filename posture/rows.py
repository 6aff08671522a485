"""Rows of the posture tables (fleet, a cluster's checks), formatted in Python, escaped.

Built with clusters.rows' helpers for the reason given there: 50 fleet rows and dozens of
checks with 20 affected objects each cost several times as much through template includes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.utils.timesince import timesince
from django.utils.timezone import localtime

from clusters.models import Cluster
from clusters.rows import decimal_text, url_for_each
from posture.scoring import score_grade, too_little_data
from posture.status import WEIGHED


def score_band(score: float | None) -> str:
    """The badge colour of a score, as clusters/_score.html chooses it."""
    if score is None:
        return "none"
    return "good" if score >= 90 else "fair" if score >= 70 else "poor"


def judged_count(status_counts: dict[str, int] | None) -> int:
    """How many checks an evaluation judged (pass, fail or waived), from its status counts."""
    return sum(int(n) for status, n in (status_counts or {}).items() if status in WEIGHED)


def change_cell(change: float | None) -> tuple[str, str]:
    """(css class, text) of a score change."""
    if change is None:
        return "muted", "—"
    if change > 0:
        return "change-up", f"▲ +{decimal_text(change, 1)}"
    if change < 0:
        return "change-down", f"▼ {decimal_text(change, 1)}"
    return "muted", "no change"


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
        # No score a week old yet: the change since the previous collection, labelled so.
        change_basis = ""
        if change is None:
            change = cast(float | None, getattr(cluster, "previous_change", None))
            change_basis = "since the previous collection" if change is not None else ""
        change_class, change_text = change_cell(change)
        collected = localtime(evaluation.created_at) if evaluation else None
        run_status, run_label = run.state if run else ("none", "Never collected")
        judged = getattr(cluster, "judged_checks", None)
        if judged is None and evaluation is not None:
            judged = judged_count(evaluation.status_counts)
        thin = (
            evaluation is not None
            and score is not None
            and too_little_data(coverage=evaluation.coverage, judged=judged)
        )
        rows.append(
            {
                "name": cluster.name,
                "url": cluster_url(cluster.name),
                "environment": cluster.environment or "—",
                "score_band": score_band(score),
                "score_grade": score_grade(score),
                "too_little_data": thin,
                "change_basis": change_basis,
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
