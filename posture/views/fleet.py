"""The fleet page: every cluster with its stored score, coverage and change over a week."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clusters.forms import NEVER_COLLECTED, SORTS, FleetFilterForm
from clusters.models import Cluster
from posture.models import Evaluation
from posture.rows import fleet_rows

FLEET_PAGE_SIZE = 50
TREND_WINDOW = timedelta(days=7)


def fleet_clusters(*, filters: dict[str, str], now: Any = None) -> QuerySet[Cluster]:
    """The fleet with each cluster's score a week ago, in a constant number of queries."""
    now = now or timezone.now()
    week_ago = (
        Evaluation.objects.filter(cluster=OuterRef("pk"), created_at__lte=now - TREND_WINDOW)
        .order_by("-created_at", "-id")
        .values("score")[:1]
    )
    # for_fleet() reads no credentials: listing clusters never needs them.
    clusters = Cluster.objects.for_fleet().annotate(
        week_ago_score=Subquery(week_ago, output_field=FloatField())
    )
    clusters = clusters.annotate(score_change=F("latest_evaluation__score") - F("week_ago_score"))
    if filters["q"]:
        clusters = clusters.filter(name__icontains=filters["q"])
    if filters["environment"]:
        clusters = clusters.filter(environment=filters["environment"])
    if filters["status"] == NEVER_COLLECTED:
        clusters = clusters.filter(latest_run__isnull=True)
    elif filters["status"]:
        clusters = clusters.filter(latest_run__status=filters["status"])
    ordering = SORTS.get(filters["sort"], SORTS["name"])
    return clusters.order_by(
        *(
            F(field.lstrip("-")).desc(nulls_last=True)
            if field.startswith("-")
            else F(field).asc(nulls_last=True)
            for field in ordering
        )
    )


@require_GET
def fleet(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied
    environments = Cluster.objects.environments()
    form = FleetFilterForm(request.GET, environments=environments)
    filters = form.filters()
    page = Paginator(fleet_clusters(filters=filters), FLEET_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "clusters/fleet.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "rows": fleet_rows(page.object_list),
            "trend_days": TREND_WINDOW.days,
        },
    )
