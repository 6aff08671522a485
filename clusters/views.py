"""Views of the clusters app: the fleet, one cluster, registration and collection requests.

Every view starts with `get_cluster_for_user` (or a permission check for fleet-wide pages);
nothing else decides who may see or do what.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, FloatField, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clusters import kube, services
from clusters.crypto import CredentialsUnreadable
from clusters.forms import (
    NEVER_COLLECTED,
    SORTS,
    BundleUploadForm,
    ClusterRegisterForm,
    FleetFilterForm,
)
from clusters.kubeconfig import Credentials, KubeconfigError, in_cluster_credentials
from clusters.models import Cluster, CollectionRun
from clusters.resources import BY_KEY
from clusters.rows import (
    affected_rows_html,
    decimal_text,
    fleet_rows,
    references_html,
    run_row,
    url_for_each,
)
from posture.checks.base import REGISTRY, Area, Severity, Status
from posture.export import posture_document
from posture.models import Evaluation

FLEET_PAGE_SIZE = 50
RECENT_RUNS = 20
TREND_WINDOW = timedelta(days=7)
AFFECTED_INLINE = 20
STATUS_LABELS = {
    "pass": "Pass",
    "fail": "Fail",
    "unknown": "Unknown",
    "not_applicable": "Not applicable",
    "error": "Error",
    "waived": "Waived",
}
# Most urgent first: what a person triaging the page needs to see before what is fine.
STATUS_ORDER = {"fail": 0, "error": 1, "unknown": 2, "waived": 3, "pass": 4, "not_applicable": 5}
GUIDE_LABELS = {
    "gke-hardening": "GKE hardening guide",
    "cis-kubernetes": "CIS Kubernetes Benchmark",
    "cis-gke": "CIS GKE Benchmark",
    "nsa-cisa": "NSA/CISA Kubernetes Hardening Guidance",
    "pss": "Pod Security Standards",
    "rampart": "Rampart",
}


def get_cluster_for_user(
    request: HttpRequest, name: str, permission: str = "clusters.view_cluster"
) -> Cluster:
    """The cluster named `name` if the user holds `permission`; 403 before any lookup."""
    if not request.user.has_perm(permission):
        raise PermissionDenied
    # The result set too: the pages that show the latest evaluation all read its verdicts.
    return get_object_or_404(
        Cluster.objects.select_related(
            "latest_run", "latest_evaluation__run", "latest_evaluation__result_set"
        ),
        name=name,
    )


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


def _runs_context(cluster: Cluster) -> dict[str, Any]:
    # The table shows neither kind statuses nor errors: never decode them.
    runs = list(
        cluster.runs.select_related("requested_by").defer(
            "kind_status", "kind_errors", "anonymous_probe"
        )[:RECENT_RUNS]
    )
    return {
        "cluster": cluster,
        "runs": runs,
        "run_rows": [run_row(run) for run in runs],
        "any_active": any(run.is_active for run in runs),
    }


def _person(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in user: LoginRequiredMiddleware lets no anonymous request reach a view."""
    return cast(AbstractBaseUser, request.user)


def _severity_rank(value: str) -> int:
    try:
        return Severity(value).rank
    except ValueError:
        return -1


def reference_rows(references: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {**ref, "guide_label": GUIDE_LABELS.get(ref["guide"], ref["guide"])} for ref in references
    ]


def why_unknown(check_id: str, run: CollectionRun) -> list[str]:
    """The resources a check needed that this run could not read, with the reason."""
    check = REGISTRY.get(check_id)
    reasons = []
    for key in check.needs if check else ():
        status = run.kind_status.get(key)
        if status and status != "ok":
            detail = run.kind_errors.get(key) or status.replace("_", " ")
            reasons.append(f"{key}: {detail}")
    return reasons


def cluster_posture(cluster: Cluster) -> dict[str, Any]:
    """The latest evaluation grouped by area, each failing check with the points it costs."""
    evaluation = cluster.latest_evaluation
    if evaluation is None:
        return {"evaluation": None, "areas": [], "failing": []}
    document = posture_document(cluster, evaluation)
    check_url = url_for_each("check_detail", "check_id", name=cluster.name)
    by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in document["checks"]:
        check = REGISTRY.get(item["id"])
        item["url"] = check_url(item["id"])
        item["status_label"] = STATUS_LABELS.get(item["status"], item["status"])
        item["impact_text"] = decimal_text(item["score_impact"], 2)
        item["remediation"] = check.remediation if check else ""
        item["references"] = reference_rows(item["references"])
        item["references_html"] = references_html(item["references"])
        item["affected_inline"] = item["affected"][:AFFECTED_INLINE]
        item["affected_rows"] = affected_rows_html(item["affected_inline"])
        item["affected_more"] = max(item["affected_total"], len(item["affected"])) > AFFECTED_INLINE
        item["why_unknown"] = (
            why_unknown(item["id"], evaluation.run)
            if item["status"] in (Status.UNKNOWN, Status.ERROR)
            else []
        )
        by_area[item["area"]].append(item)
    labels = {area.value: area.label for area in Area}
    areas = []
    for key in [*labels, *sorted(k for k in by_area if k not in labels)]:
        checks = sorted(
            by_area.get(key, []),
            key=lambda c: (
                STATUS_ORDER.get(c["status"], 9),
                -_severity_rank(c["severity"]),
                c["title"],
            ),
        )
        areas.append(
            {
                "key": key or "other",
                "label": labels.get(key, "Other checks"),
                "tally": evaluation.area_scores.get(key) or {},
                "checks": checks,
                "points_lost": round(sum(c["score_impact"] for c in checks), 1),
            }
        )
    tallies = [area["tally"] for area in areas]
    failing = sorted(
        (c for c in document["checks"] if c["status"] == Status.FAIL),
        key=lambda c: (-c["score_impact"], c["title"]),
    )
    return {
        "evaluation": evaluation,
        "areas": areas,
        "failing": failing,
        "earned": sum(t.get("earned") or 0 for t in tallies),
        "possible": sum(t.get("possible") or 0 for t in tallies),
        "waived": sum(t.get("waived") or 0 for t in tallies),
        "status_counts": [
            {"status": status, "label": STATUS_LABELS.get(status, status), "count": count}
            for status, count in sorted(
                evaluation.status_counts.items(), key=lambda kv: STATUS_ORDER.get(kv[0], 9)
            )
        ],
    }


@require_GET
def cluster_detail(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    context = {
        **_runs_context(cluster),
        **cluster_posture(cluster),
        "owners": list(cluster.owners.order_by("email")),
        "upload_form": BundleUploadForm(),
        "can_test_connection": cluster.is_live and request.user.has_perm("clusters.change_cluster"),
    }
    return render(request, "clusters/cluster_detail.html", context)


@require_GET
def cluster_runs_partial(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    context = {**_runs_context(cluster), "polled": request.GET.get("polled") == "1"}
    return render(request, "clusters/_runs.html", context)


@require_POST
def cluster_collect(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.add_collectionrun")
    try:
        services.collection_request(
            cluster=cluster, trigger=CollectionRun.Trigger.MANUAL, by=_person(request)
        )
    except services.CollectionAlreadyActive as exc:
        messages.warning(request, f"A collection is already {exc.run.status}; wait for it.")
    except services.RegistrationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Collection requested; its status updates below.")
    return redirect(cluster)


@require_POST
def cluster_upload(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.add_collectionrun")
    form = BundleUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form.errors.get("bundle", []):
            messages.error(request, str(error))
        return redirect(cluster)
    bundle = form.cleaned_data["bundle"]
    try:
        services.bundle_upload(
            cluster=cluster, upload=bundle, upload_name=bundle.name, by=_person(request)
        )
    except services.CollectionAlreadyActive as exc:
        messages.warning(request, f"A collection is already {exc.run.status}; upload afterwards.")
    except services.RegistrationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Bundle uploaded; it is being evaluated.")
    return redirect(cluster)


@require_POST
def cluster_test_connection(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name, "clusters.change_cluster")
    if not cluster.is_live:
        messages.error(request, f"{cluster} is assessed from evidence bundles; nothing to connect.")
        return redirect(cluster)
    credentials: Credentials | None = None
    try:
        if cluster.source_kind == Cluster.SourceKind.IN_CLUSTER:
            credentials = in_cluster_credentials()
        else:
            credentials = services.cluster_credentials(cluster)
    except (KubeconfigError, CredentialsUnreadable) as exc:
        report = kube.ConnectionReport(ok=False, error=str(exc))
    else:
        report = kube.test_connection(
            credentials, timeout=min(settings.RAMPART_KUBE_REQUEST_TIMEOUT, 15)
        )
    resources = [
        {"key": key, "kind": BY_KEY[key].kind if key in BY_KEY else key, "status": status}
        for key, status in sorted(report.resources.items())
    ]
    context = {
        "cluster": cluster,
        "report": report,
        "error": _scrub(report.error or "", credentials),
        "resources": resources,
        "listable": sum(1 for row in resources if row["status"] == "ok"),
    }
    return render(request, "clusters/connection_report.html", context)


def _scrub(text: str, credentials: Credentials | None) -> str:
    """Belt and braces: kube scrubs its messages, and the view never shows a secret either."""
    if credentials is None:
        return text
    for secret in (
        credentials.token,
        credentials.client_key_data,
        credentials.client_certificate_data,
    ):
        if secret:
            text = text.replace(secret, "***")
    return text


def cluster_register(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("clusters.add_cluster"):
        raise PermissionDenied
    form = ClusterRegisterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = data["source_kind"]
        bundle = data.get("bundle") if kind == Cluster.SourceKind.BUNDLE else None
        kubeconfig = data.get("kubeconfig") if kind == Cluster.SourceKind.KUBECONFIG else None
        try:
            cluster = services.cluster_register(
                name=data["name"],
                source_kind=kind,
                kubeconfig=kubeconfig,
                context=data.get("context") or None,
                bundle_upload=bundle,
                bundle_upload_name=bundle.name if bundle else "bundle.tar.gz",
                environment=data.get("environment", ""),
                description=data.get("description", ""),
                owners=data["owners"],
                by=_person(request),
            )
        except services.RegistrationError as exc:
            form.add_error(None, _without_secrets(str(exc), kubeconfig))
        else:
            messages.success(request, f"{cluster} registered; its first collection is queued.")
            return redirect(cluster)
    return render(request, "clusters/register.html", {"form": form})


_KUBECONFIG_VALUE = re.compile(r":\s*[\"']?([^\s\"']{8,})")


def _without_secrets(message: str, kubeconfig: str | None) -> str:
    """A YAML error quotes the offending line; never let it echo any part of the kubeconfig."""
    if not kubeconfig:
        return message
    kept = []
    for line in message.splitlines():
        quoted = line.strip().removeprefix("... ").removesuffix(" ...").strip()
        if quoted and (quoted in kubeconfig or set(quoted) <= {"^"}):
            continue  # a snippet of the uploaded text, or the caret under it
        kept.append(line)
    message = "\n".join(kept)
    for value in sorted(set(_KUBECONFIG_VALUE.findall(kubeconfig)), key=len, reverse=True):
        message = message.replace(value, "***")
    return message
