"""Report pages: ask for a report, watch it build, download it; checklist CSV/JSON exports.

Auditors, engineers and admins hold `compliance.add_report` and `compliance.view_report`
(accounts.roles): issuing a report reads stored verdicts and changes no result. Files are
streamed by `report_download` after the permission check, never from a public URL, and each
download is written to the audit log.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from clusters.access import get_cluster_for_user
from clusters.models import Cluster
from compliance.models import Report
from compliance.reports import services
from compliance.reports.forms import ReportForm
from compliance.reports.render import content_sha256, render_csv, render_json
from compliance.reports.scope import scope_build
from posture.guides import guide_get

LISTED = 50
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _page(
    request: HttpRequest, *, cluster: Cluster | None, form: ReportForm, reports: list[Report]
) -> HttpResponse:
    poll = (
        reverse("cluster_reports_list", kwargs={"name": cluster.name})
        if cluster
        else reverse("fleet_reports_list")
    )
    return render(
        request,
        "compliance/reports/reports.html",
        {
            "cluster": cluster,
            "form": form,
            "reports": reports,
            "poll_url": poll,
            "any_active": any(r.is_active for r in reports),
            "can_generate": request.user.has_perm("compliance.add_report"),
        },
    )


def _reports_for(cluster: Cluster | None) -> list[Report]:
    reports = Report.objects.for_listing()
    reports = reports.for_cluster(cluster) if cluster else reports.for_fleet()
    return list(reports[:LISTED])


def _ask(request: HttpRequest, cluster: Cluster | None) -> HttpResponse:
    form = ReportForm(request.POST or None, cluster=cluster)
    if request.method == "POST":
        _require(request, "compliance.add_report")
        if form.is_valid() and form.scope is not None:
            report = services.report_request(
                scope=form.scope, format=form.cleaned_data["format"], by=request.user
            )
            messages.success(request, f"Report #{report.pk} is being built.")
            return redirect(request.path)
    return _page(request, cluster=cluster, form=form, reports=_reports_for(cluster))


@require_http_methods(["GET", "POST"])
def cluster_reports(request: HttpRequest, name: str) -> HttpResponse:
    _require(request, "compliance.view_report")
    return _ask(request, get_cluster_for_user(request, name))


@require_http_methods(["GET", "POST"])
def fleet_reports(request: HttpRequest) -> HttpResponse:
    _require(request, "compliance.view_report")
    _require(request, "clusters.view_cluster")
    return _ask(request, None)


def _list_partial(request: HttpRequest, cluster: Cluster | None, poll: str) -> HttpResponse:
    reports = _reports_for(cluster)
    return render(
        request,
        "compliance/reports/_report_list.html",
        {"reports": reports, "poll_url": poll, "any_active": any(r.is_active for r in reports)},
    )


@require_GET
def cluster_reports_list(request: HttpRequest, name: str) -> HttpResponse:
    """The list alone, which the page polls while a report is building."""
    _require(request, "compliance.view_report")
    cluster = get_cluster_for_user(request, name)
    return _list_partial(request, cluster, request.path)


@require_GET
def fleet_reports_list(request: HttpRequest) -> HttpResponse:
    _require(request, "compliance.view_report")
    return _list_partial(request, None, request.path)


@require_GET
def report_download(request: HttpRequest, pk: int) -> FileResponse:
    _require(request, "compliance.view_report")
    report = get_object_or_404(Report, pk=pk, status=Report.Status.DONE)
    if report.cluster_id is not None:
        get_cluster_for_user(request, report.cluster_name)
    try:
        path = services.report_download(report=report, by=request.user)
    except FileNotFoundError:
        raise Http404("The report's file is no longer stored") from None
    response = FileResponse(path.open("rb"), as_attachment=True, filename=report.filename)
    response["Content-Type"] = CONTENT_TYPES[report.format]
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def checklist_export(request: HttpRequest, name: str, guide: str, format: str) -> HttpResponse:
    """The checklist's rows as the command line writes them (CSV, or JSON with every object)."""
    _require(request, "compliance.view_report")
    cluster = get_cluster_for_user(request, name)
    if guide_get(guide) is None or format not in ("csv", "json"):
        raise Http404("No such export")
    now = timezone.now()
    scope = scope_build(guide=guide, cluster=cluster)
    data = services.report_data(scope, generated_by=request.user.get_username(), generated_at=now)
    fingerprint = content_sha256(data)
    rendered = render_csv(data) if format == "csv" else render_json(data, fingerprint=fingerprint)
    services.export_audit(cluster=cluster, guide=guide, format=format, by=request.user, at=now)
    response = HttpResponse(rendered.content, content_type=CONTENT_TYPES[format])
    filename = f"rampart-{cluster.name}-{guide}-checklist-{now:%Y%m%d}.{format}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
