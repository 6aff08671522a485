"""One check's stored verdict on a cluster, with every affected object; the score formula."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from clusters.access import get_cluster_for_user
from posture import scoring
from posture.checks.base import REGISTRY, Area, Severity
from posture.status import UNJUDGED, Status
from posture.verdicts import check_views, gap_lines, reference_rows, waivers_applied

AFFECTED_PAGE_SIZE = 500


@require_GET
def check_detail(request: HttpRequest, name: str, check_id: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    check = REGISTRY.get(check_id)
    evaluation = cluster.latest_evaluation
    views = check_views(evaluation, check_ids=[check_id]) if evaluation else []
    view = views[0] if views else None
    if check is None and view is None:
        raise Http404("No such check")
    page = Paginator(view.affected if view else [], AFFECTED_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    user = request.user
    can_request_waiver = (
        check is not None
        and view is not None
        and view.status == Status.FAIL
        and user.has_perm("compliance.add_waiver")
        and user.has_perm("compliance.view_attestation")
    )
    stored = {w["id"]: w for w in evaluation.verdict_set.waivers} if evaluation and view else {}
    context = {
        "cluster": cluster,
        "check": check,
        "check_id": check_id,
        "area_label": check.area.label if check else "",
        "weight": scoring.WEIGHTS[check.severity] if check else 0,
        "references": reference_rows(check),
        "result": view,
        "status_label": view.label if view else "",
        "why_unknown": gap_lines(view.missing, evaluation.run)
        if view and evaluation and view.status in UNJUDGED
        else [],
        "impact": view.points if view else 0.0,
        "page": page,
        "waivers": waivers_applied(view, stored) if view else [],
        "waiver_url": reverse("waiver_request", kwargs={"name": cluster.name, "check_id": check_id})
        if can_request_waiver
        else "",
    }
    return render(request, "posture/check_detail.html", context)


@require_GET
def score_formula(request: HttpRequest) -> HttpResponse:
    per_area = []
    for area in Area:
        checks = [c for c in REGISTRY.values() if c.area == area]
        per_area.append(
            {
                "label": area.label,
                "count": len(checks),
                "weight": sum(scoring.WEIGHTS[c.severity] for c in checks),
            }
        )
    weights = [
        {"severity": severity.value, "weight": scoring.WEIGHTS[severity]} for severity in Severity
    ]
    context = {
        "formula": (scoring.__doc__ or "").strip(),
        "weights": weights,
        "per_area": per_area,
        "check_count": len(REGISTRY),
    }
    return render(request, "posture/score_formula.html", context)
