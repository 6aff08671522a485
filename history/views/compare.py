"""Compare two evaluations of one cluster: scores, versions, verdicts and findings."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.access import get_cluster_for_user
from clusters.models import Cluster
from history import compare


def _evaluation_id(request: HttpRequest, key: str) -> int | None:
    value = request.GET.get(key, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise Http404(f"{key} must be an evaluation id")
    return int(value)


def _day(request: HttpRequest, key: str, errors: list[str]) -> date | None:
    value = request.GET.get(key, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{value!r} is not a date (YYYY-MM-DD).")
        return None


def _picked(request: HttpRequest, cluster: Cluster, side: str, errors: list[str]) -> int | None:
    """The evaluation a side names: a date (the last collection at or before it) or an id."""
    day = _day(request, f"{side}_date", errors)
    if day is None:
        return _evaluation_id(request, side)
    found = compare.evaluation_on(cluster=cluster, day=day)
    if found is None:
        errors.append(f"{cluster.name} has no collection on or before {day.isoformat()}.")
    return found


@require_GET
def cluster_compare(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    errors: list[str] = []
    context: dict[str, Any] = {
        "cluster": cluster,
        "choices_cap": compare.CHOICES_CAP,
        "detail_days": settings.RAMPART_HISTORY_DETAIL_DAYS,
        "date_errors": errors,
    }
    status = 200
    try:
        pair = compare.evaluation_pair(
            cluster=cluster,
            from_id=_picked(request, cluster, "from", errors),
            to_id=_picked(request, cluster, "to", errors),
        )
    except compare.EvaluationNotHeld as exc:
        # Another cluster's evaluation and a pruned one look alike: neither exists here.
        pair, status, context["missing_id"] = None, 404, exc.evaluation_id
    context["choices"], context["more_choices"] = compare.evaluation_choices(
        cluster=cluster, pair=pair
    )
    context["oldest"], context["newest"] = compare.evaluation_span(cluster=cluster)
    if pair is not None:
        context["comparison"] = compare.evaluations_compare(pair=pair)
    return render(request, "history/compare.html", context, status=status)
