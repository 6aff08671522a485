"""Compare two evaluations of one cluster: scores, versions, verdicts and findings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.access import get_cluster_for_user
from history import compare


def _evaluation_id(request: HttpRequest, key: str) -> int | None:
    value = request.GET.get(key, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise Http404(f"{key} must be an evaluation id")
    return int(value)


@require_GET
def cluster_compare(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    context: dict[str, Any] = {
        "cluster": cluster,
        "choices_cap": compare.CHOICES_CAP,
        "detail_days": settings.RAMPART_HISTORY_DETAIL_DAYS,
    }
    status = 200
    try:
        pair = compare.evaluation_pair(
            cluster=cluster,
            from_id=_evaluation_id(request, "from"),
            to_id=_evaluation_id(request, "to"),
        )
    except compare.EvaluationNotHeld as exc:
        # Another cluster's evaluation and a pruned one look alike: neither exists here.
        pair, status, context["missing_id"] = None, 404, exc.evaluation_id
    context["choices"], context["more_choices"] = compare.evaluation_choices(
        cluster=cluster, pair=pair
    )
    if pair is not None:
        context["comparison"] = compare.evaluations_compare(pair=pair)
    return render(request, "history/compare.html", context, status=status)
