"""Download views: a cluster's findings and the audit log, as CSV or JSON.

Each starts with its access check (PermissionDenied), reads stored rows, and records the
download in the audit log before answering (compliance.exports.download_record). Files are
served as attachments, never from a public media URL.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from clusters.access import get_cluster_for_user
from compliance.exports import (
    AUDIT_COLUMNS,
    FORMATS,
    audit_rows,
    download_record,
    rows_csv,
    rows_json,
)
from compliance.forms import AuditFilterForm
from compliance.models import AuditEvent
from posture.finding_exports import FINDING_COLUMNS, finding_rows
from posture.models import Finding

_CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
FINDING_STATUSES = {"open", "resolved"}


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Http404("No such format")
    return fmt


def _attachment(content: bytes, fmt: str, stem: str) -> HttpResponse:
    response = HttpResponse(content, content_type=_CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def findings_download(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    cluster = get_cluster_for_user(request, name)
    fmt = _format(fmt)
    findings = Finding.objects.for_cluster(cluster).order_by("-opened_at", "check_id", "pk")
    filters = {}
    status = request.GET.get("status", "")
    if status in FINDING_STATUSES:
        findings = findings.filter(status=status)
        filters["status"] = status
    rows = finding_rows(findings.iterator(), cluster.name)
    download_record(
        by=request.user,  # type: ignore[arg-type]
        what="findings",
        fmt=fmt,
        rows=len(rows),
        filters=filters,
        cluster=cluster,
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    content = (
        rows_csv(rows, FINDING_COLUMNS)
        if fmt == "csv"
        else rows_json(rows, key="findings", cluster=cluster.name, generated_at=_now())
    )
    return _attachment(content, fmt, f"{cluster.name}-findings-{stamp}")


@require_GET
def audit_log_download(request: HttpRequest, fmt: str) -> HttpResponse:
    if not request.user.has_perm("compliance.view_auditevent"):
        raise PermissionDenied
    fmt = _format(fmt)
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.for_listing()
    filters: dict[str, str] = {}
    if form.is_valid():
        for field in ("cluster", "action"):
            if form.cleaned_data[field]:
                filters[field] = form.cleaned_data[field]
        if "cluster" in filters:
            events = events.filter(cluster_name=filters["cluster"])
        if "action" in filters:
            events = events.filter(action=filters["action"])
    # The rows are read before this download's own event is written: a file never lists itself.
    rows = audit_rows(events.iterator())
    download_record(
        by=request.user,  # type: ignore[arg-type]
        what="audit_log",
        fmt=fmt,
        rows=len(rows),
        filters=filters,
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    content = (
        rows_csv(rows, AUDIT_COLUMNS)
        if fmt == "csv"
        else rows_json(rows, key="events", generated_at=_now(), filters=filters)
    )
    return _attachment(content, fmt, f"rampart-audit-log-{stamp}")


def _now() -> str:
    return timezone.now().isoformat()
