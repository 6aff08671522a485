"""The fleet page: a summary band over the whole fleet, then every cluster with its stored
score, coverage and change over a week (or since its previous collection, when it has no
score a week old yet)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from clusters.forms import NEVER_COLLECTED, SORTS, FleetFilterForm
from clusters.models import Cluster, CollectionRun
from clusters.page_cache import page_cached
from clusters.rows import fields_html
from posture.models import Evaluation
from posture.rows import fleet_rows
from posture.scoring import score_grade
from posture.status import WEIGHED

# The summary band's score distribution: (label, lowest score, highest score exclusive).
SCORE_BUCKETS = [
    ("90-100", 90.0, None),
    ("70-89", 70.0, 90.0),
    ("50-69", 50.0, 70.0),
    ("30-49", 30.0, 50.0),
    ("0-29", None, 30.0),
]

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
    # The collection before the latest: what "Change" falls back to for a cluster whose history
    # is younger than a week, so a drop of 30 points on day two is not shown as "—".
    previous = (
        Evaluation.objects.filter(
            cluster=OuterRef("pk"), created_at__lt=OuterRef("latest_evaluation__created_at")
        )
        .order_by("-created_at", "-id")
        .values("score")[:1]
    )
    # for_fleet() reads no credentials: listing clusters never needs them.
    clusters = Cluster.objects.for_fleet().annotate(
        week_ago_score=Subquery(week_ago, output_field=FloatField()),
        previous_score=Subquery(previous, output_field=FloatField()),
    )
    clusters = clusters.annotate(
        score_change=F("latest_evaluation__score") - F("week_ago_score"),
        previous_change=F("latest_evaluation__score") - F("previous_score"),
        # How many checks were judged, summed in SQL: decoding each row's status counts in
        # Python is what for_fleet() avoids.
        judged_checks=sum(
            (
                Coalesce(
                    Cast(
                        KeyTextTransform(status, "latest_evaluation__status_counts"),
                        IntegerField(),
                    ),
                    Value(0),
                )
                for status in sorted(WEIGHED)
            ),
            start=Value(0),
        ),
    )
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


def fleet_summary(*, now: Any = None) -> dict[str, Any]:
    """The summary band over the whole fleet (not the filtered page), in one query.

    Stale: a scheduled live cluster whose newest completed collection is older than the stale
    alert's threshold (RAMPART_ALERT_STALE_HOURS), or that never completed one. Failing: the
    latest run failed, or failed and waits to retry (pending after an attempt).
    """
    now = now or timezone.now()
    stale_before = now - timedelta(hours=settings.RAMPART_ALERT_STALE_HOURS)
    score = "latest_evaluation__score"
    buckets = {
        f"bucket_{index}": Count(
            "pk",
            filter=Q(**({f"{score}__gte": low} if low is not None else {f"{score}__isnull": False}))
            & (Q(**{f"{score}__lt": high}) if high is not None else Q()),
        )
        for index, (_, low, high) in enumerate(SCORE_BUCKETS)
    }
    figures = Cluster.objects.aggregate(
        total=Count("pk"),
        unscored=Count("pk", filter=Q(**{f"{score}__isnull": True})),
        critical=Count("pk", filter=Q(latest_evaluation__open_findings__critical__gt=0)),
        stale=Count(
            "pk",
            filter=Q(
                source_kind__in=[Cluster.SourceKind.KUBECONFIG, Cluster.SourceKind.IN_CLUSTER],
                schedule_enabled=True,
            )
            & (
                Q(latest_evaluation__isnull=True)
                | Q(latest_evaluation__created_at__lt=stale_before)
            ),
        ),
        failing=Count(
            "pk",
            filter=Q(latest_run__status=CollectionRun.Status.FAILED)
            | Q(latest_run__status=CollectionRun.Status.PENDING, latest_run__attempts__gt=0),
        ),
        **buckets,
    )
    total = figures["total"] or 0
    distribution = [
        {
            "label": label,
            "count": count,
            "grade": score_grade(low if low is not None else 0.0),
            # A bar in tenths of the fleet (a CSS class: no inline style under the CSP); any
            # cluster at all shows at least one tenth.
            "bar": max(round(10 * count / total), 1) * 10 if count else 0,
        }
        for index, (label, low, _) in enumerate(SCORE_BUCKETS)
        for count in [figures[f"bucket_{index}"]]
    ]
    return {
        "total": total,
        "unscored": figures["unscored"],
        "distribution": distribution,
        "critical": figures["critical"],
        "stale": figures["stale"],
        "failing": figures["failing"],
        "stale_hours": settings.RAMPART_ALERT_STALE_HOURS,
    }


def fleet_page(*, filters: dict[str, str], number: str | None) -> tuple[Page[Any], dict[str, Any]]:
    """One page of the fleet table and its rows, from the shared cache between writes."""

    def build() -> dict[str, Any]:
        page = Paginator(fleet_clusters(filters=filters), FLEET_PAGE_SIZE).get_page(number)
        clusters = list(page.object_list)
        rows = fleet_rows(clusters)
        return {
            "count": page.paginator.count,
            "number": page.number,
            "clusters": clusters,
            "rows": rows,
            # The table's rows hold nothing about the reader: rendered once for everyone.
            "rows_html": render_to_string("clusters/_fleet_rows.html", {"rows": rows}),
        }

    data = page_cached("fleet", parts=(sorted(filters.items()), number), build=build)
    # A paginator over range(count) pages exactly as the queryset did, without its rows.
    paginator = Paginator(range(data["count"]), FLEET_PAGE_SIZE)
    return Page(data["clusters"], data["number"], paginator), data


def fleet_summary_page() -> dict[str, Any]:
    """The summary band's figures and its rendering, from the shared cache between writes."""

    def build() -> dict[str, Any]:
        summary = fleet_summary()
        summary["html"] = render_to_string("clusters/_fleet_summary.html", {"summary": summary})
        return summary

    # Stale counts move with the clock too; entries expire after RAMPART_PAGE_CACHE_SECONDS,
    # which bounds how late a cluster turns stale here.
    return page_cached("fleet-summary", build=build)


@require_GET
def fleet(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied
    environments = page_cached("fleet-environments", build=Cluster.objects.environments)
    form = FleetFilterForm(request.GET, environments=environments)
    filters = form.filters()
    page, data = fleet_page(filters=filters, number=request.GET.get("page"))
    return render(
        request,
        "clusters/fleet.html",
        {
            "form": form,
            "filter_fields": fields_html(
                form, "q", "environment", "status", "sort", key=tuple(environments)
            ),
            "filters": filters,
            "page": page,
            "rows": data["rows"],
            "rows_html": data["rows_html"],
            "trend_days": TREND_WINDOW.days,
            "summary": fleet_summary_page(),
        },
    )
