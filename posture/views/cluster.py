"""A cluster's page: its stored posture by area, what each failing check costs, its runs."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.access import get_cluster_for_user
from clusters.forms import BundleUploadForm
from clusters.models import Cluster
from clusters.rows import (
    affected_rows_html,
    cluster_rows,
    decimal_text,
    fields_html,
    node_benchmark_context,
    provider_context,
    references_html,
    url_for_each,
)
from posture.checks.base import Area, Severity
from posture.page_data import cluster_posture_page, cluster_runs_page
from posture.scoring import MIN_COVERAGE, MIN_JUDGED, too_little_data
from posture.status import UNJUDGED, Status
from posture.verdicts import CheckView, check_views, gap_lines, reference_rows, waivers_applied

AFFECTED_INLINE = 20


def _severity_rank(view: CheckView) -> int:
    return view.check.severity.rank if view.check else -1


def _check_row(
    view: CheckView,
    check_url: str,
    run: Any,
    *,
    waiver_url: str = "",
    stored_waivers: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    check = view.check
    references = reference_rows(check)
    inline = view.affected[:AFFECTED_INLINE]
    # Only what still fails can be waived: a check fully waived or passing offers nothing.
    waivable = waiver_url if view.status == Status.FAIL else ""
    return {
        "id": view.check_id,
        "title": view.title,
        "url": check_url,
        "status": view.status,
        "status_label": view.label,
        "severity": check.severity.value if check else Severity.INFO.value,
        "summary": view.summary,
        "score_impact": view.points,
        "impact_text": decimal_text(view.points, 2),
        "remediation": check.remediation if check else "",
        "references": references,
        "references_html": references_html(references),
        "affected_total": view.affected_total,
        "affected_inline": inline,
        "affected_rows": affected_rows_html(inline, select="object" if waivable else ""),
        "affected_more": view.affected_total > AFFECTED_INLINE,
        "waived_total": view.waived_total,
        "partially_waived": view.partially_waived,
        "waivers": waivers_applied(view, stored_waivers or {}),
        "waiver_url": waivable,
        "why_unknown": gap_lines(view.missing, run) if view.status in UNJUDGED else [],
    }


def _said_once(rows: list[dict[str, Any]], run: Any) -> list[str]:
    """What the sources said about the inputs unknown checks lack, each message once."""
    said: list[str] = []
    for row in rows:
        for cause in row["why_unknown"]:
            said.extend(message for message in cause.said if message not in said)
    return said


def cluster_posture(cluster: Cluster, *, can_request_waiver: bool = False) -> dict[str, Any]:
    """The latest stored evaluation grouped by area, each failing check with its points.

    With `can_request_waiver`, each failing check links to the waiver request (compliance's
    page, named by URL only: posture does not import compliance) with its objects to tick.
    """
    evaluation = cluster.latest_evaluation
    if evaluation is None:
        return {"evaluation": None, "areas": [], "failing": []}
    check_url = url_for_each("check_detail", "check_id", name=cluster.name)
    waiver_url = url_for_each("waiver_request", "check_id", name=cluster.name)
    stored = {waiver["id"]: waiver for waiver in evaluation.verdict_set.waivers}
    by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = []
    for view in check_views(evaluation):
        row = _check_row(
            view,
            check_url(view.check_id),
            evaluation.run,
            waiver_url=waiver_url(view.check_id) if can_request_waiver else "",
            stored_waivers=stored,
        )
        row["rank"] = (Status.order_of(view.status), -_severity_rank(view), view.title)
        by_area[view.check.area.value if view.check else ""].append(row)
        rows.append(row)
    labels = {area.value: area.label for area in Area}
    areas = []
    for key in [*labels, *sorted(k for k in by_area if k not in labels)]:
        checks = sorted(by_area.get(key, []), key=lambda c: c["rank"])
        tally = evaluation.area_scores.get(key) or {}
        areas.append(
            {
                "key": key or "other",
                "label": labels.get(key, "Other checks"),
                "tally": tally,
                "too_little_data": bool(tally)
                and tally.get("score") is not None
                and too_little_data(coverage=tally.get("coverage"), judged=tally.get("judged")),
                "checks": checks,
                "points_lost": round(sum(c["score_impact"] for c in checks), 1),
            }
        )
    tallies = [area["tally"] for area in areas]
    failing = sorted(
        (row for row in rows if row["status"] == Status.FAIL),
        key=lambda c: (-c["score_impact"], c["title"]),
    )
    judged = sum(t.get("judged") or 0 for t in tallies)
    return {
        "evaluation": evaluation,
        "too_little_data": evaluation.score is not None
        and too_little_data(coverage=evaluation.coverage, judged=judged),
        "min_coverage": MIN_COVERAGE,
        "min_judged": MIN_JUDGED,
        "areas": areas,
        "failing": failing,
        "earned": sum(t.get("earned") or 0 for t in tallies),
        "possible": sum(t.get("possible") or 0 for t in tallies),
        "waived": sum(t.get("waived") or 0 for t in tallies),
        # Why checks are unknown, one line per cause with its count, said once for the page.
        "unknown_said": _said_once(rows, evaluation.run),
        "unknown_causes": [
            f"{cause} ({len(ids)} check{'s' if len(ids) != 1 else ''})"
            for cause, ids in evaluation.verdict_set.causes
        ],
        "status_counts": [
            {"status": status, "label": Status.label_of(status), "count": count}
            for status, count in sorted(
                evaluation.status_counts.items(), key=lambda kv: Status.order_of(kv[0])
            )
        ],
    }


@require_GET
def cluster_detail(request: HttpRequest, name: str) -> HttpResponse:
    # The posture is read from the page cache: its sets are loaded only to build it.
    cluster = get_cluster_for_user(request, name, with_sets=False)
    user = request.user
    can_request_waiver = user.has_perm("compliance.add_waiver") and user.has_perm(
        "compliance.view_attestation"
    )
    stored = cluster_rows(cluster)  # owners, provider link, uploads: one read for three sections
    can_edit = user.has_perm("clusters.change_cluster")
    context = {
        "cluster": cluster,
        **cluster_runs_page(cluster),
        **cluster_posture_page(
            cluster, build=cluster_posture, can_request_waiver=can_request_waiver
        ),
        "owners": stored["owners"],
        "upload_fields": fields_html(BundleUploadForm(), "bundle"),
        "can_test_connection": cluster.is_live and can_edit,
        **provider_context(cluster, stored=stored, can_edit=can_edit),
        **node_benchmark_context(cluster, stored=stored, can_edit=can_edit),
    }
    return render(request, "clusters/cluster_detail.html", context)
