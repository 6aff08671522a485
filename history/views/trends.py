"""Trend pages: one cluster's history, and the fleet's. The work is in history.trends
and history.fleet_trends."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clusters.views import get_cluster_for_user
from history.fleet_trends import environment_names, fleet_trend
from history.trends import PERIODS, cluster_trend, period_get


@require_GET
def cluster_trends(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    period = period_get(request.GET.get("range"))
    context = {
        "cluster": cluster,
        "trend": cluster_trend(cluster=cluster, period=period),
        "periods": PERIODS.values(),
    }
    return render(request, "history/cluster_trends.html", context)


@require_GET
def fleet_trends(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied
    environments = environment_names()
    environment = request.GET.get("environment", "")
    if environment not in environments:
        environment = ""  # an unknown environment shows the whole fleet, not an empty page
    period = period_get(request.GET.get("range"))
    context = {
        "trend": fleet_trend(period=period, environment=environment),
        "environments": environments,
        "periods": PERIODS.values(),
    }
    return render(request, "history/fleet_trends.html", context)
