"""The fleet's drift: where clusters disagree on a check, grouped by environment."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.models import Cluster
from history import drift
from posture.checks.base import Area


@require_GET
def fleet_drift(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied
    environments = Cluster.objects.environments()
    filters = drift.DriftFilters.from_query(request.GET, environments=environments)
    context = {
        "matrix": drift.drift_matrix(filters=filters, page_number=request.GET.get("page")),
        "filters": filters,
        "environments": environments,
        "areas": [(area.value, area.label) for area in Area],
        "only_choices": drift.ONLY_CHOICES,
        "page_size": drift.PAGE_SIZE,
    }
    return render(request, "history/drift.html", context)
