"""Trend pages: one cluster's history, and the fleet's. The work is in history.trends
and history.fleet_trends."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET

from clusters.access import get_cluster_for_user
from clusters.models import Cluster
from history.fleet_trends import fleet_trend
from history.trends import PERIODS, cluster_trend, period_get


@require_GET
def cluster_trends(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    period = period_get(request.GET.get("range"))
    context = {
        "cluster": cluster,
        "period": period,
        # Built only when the template's cached fragment is missing (see _cached_fragment).
        "trend": SimpleLazyObject(lambda: cluster_trend(cluster=cluster, period=period)),
        "periods": PERIODS.values(),
        **_cached_fragment(),
    }
    return render(request, "history/cluster_trends.html", context)


@require_GET
def fleet_trends(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied
    environments = Cluster.objects.environments()
    environment = request.GET.get("environment", "")
    if environment not in environments:
        environment = ""  # an unknown environment shows the whole fleet, not an empty page
    period = period_get(request.GET.get("range"))
    context = {
        "period": period,
        "environment": environment,
        "trend": SimpleLazyObject(lambda: fleet_trend(period=period, environment=environment)),
        "environments": environments,
        "periods": PERIODS.values(),
        **_cached_fragment(),
    }
    return render(request, "history/fleet_trends.html", context)


def _cached_fragment() -> dict[str, object]:
    """What the templates' {% cache %} blocks key on besides the page's own arguments.

    A year of trends costs some 50 ms to build and draw, and changes only when a collection
    lands or its verdict is derived again (the cluster's latest evaluation and verdict set, part
    of its key) or the 15-minute fleet refresh runs; waiver markers and worst movers may lag by
    RAMPART_TREND_CACHE_SECONDS.
    """
    return {
        "trend_cache_seconds": settings.RAMPART_TREND_CACHE_SECONDS,
        "today": timezone.localdate().isoformat(),
    }
