"""Views of the posture app: one check's evidence, and the score formula."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.views import STATUS_LABELS, get_cluster_for_user, reference_rows, why_unknown
from posture import scoring
from posture.checks.base import REGISTRY, Area, Severity, Status
from posture.models import CheckResult

AFFECTED_PAGE_SIZE = 500


def _catalog_loaded() -> None:
    from posture import checks  # noqa: F401  (importing the package registers every check)


@require_GET
def check_detail(request: HttpRequest, name: str, check_id: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    _catalog_loaded()
    check = REGISTRY.get(check_id)
    evaluation = cluster.latest_evaluation
    result = evaluation.results.filter(check_id=check_id).first() if evaluation else None
    if check is None and result is None:
        raise Http404("No such check")
    impact = _score_impact(result, evaluation.statuses) if result and evaluation and check else 0.0
    affected = result.affected if result else []
    page = Paginator(affected, AFFECTED_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "cluster": cluster,
        "check": check,
        "check_id": check_id,
        "area_label": check.area.label if check else "",
        "weight": scoring.WEIGHTS[check.severity] if check else 0,
        "references": reference_rows([ref.as_dict() for ref in check.references] if check else []),
        "result": result,
        "status_label": STATUS_LABELS.get(result.status, result.status) if result else "",
        "why_unknown": why_unknown(check_id, evaluation.run)
        if result and evaluation and result.status in (Status.UNKNOWN, Status.ERROR)
        else [],
        "impact": impact,
        "page": page,
    }
    return render(request, "posture/check_detail.html", context)


def _score_impact(result: CheckResult, statuses: dict[str, str]) -> float:
    """Points this result costs the overall score, from every verdict of its evaluation."""
    items = []
    for check_id, status in statuses.items():
        check = REGISTRY.get(check_id)
        if check is not None:
            items.append(scoring.Scored(check_id, check.area.value, check.severity.value, status))
    report = scoring.score(items)
    check = REGISTRY[result.check_id]
    return report.contribution(
        scoring.Scored(result.check_id, check.area.value, check.severity.value, result.status)
    )


@require_GET
def score_formula(request: HttpRequest) -> HttpResponse:
    _catalog_loaded()
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
