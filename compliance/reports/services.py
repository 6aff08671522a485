"""Issuing reports: the Report record, its file under RAMPART_DATA_DIR, its two fingerprints.

    report_request   a person asks on a page: a pending row, built by a task after commit
    report_build     the task's work, idempotent: claims the row (pending -> running) once
    report_issue     the command line: row and file at once, in this process
    report_verify    which issued report a file is, byte for byte (None: not Rampart's)
    report_download  the file to stream, with the download in the audit log

Issuing and downloading are audited (compliance.AuditEvent); the file is never under a served
URL, so every read goes through a permission-checked view or this module.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters.inventory import gc_paused
from clusters.models import Cluster
from compliance.models import AuditEvent, Report
from compliance.reports.data import cluster_report
from compliance.reports.fleet import fleet_report
from compliance.reports.render import content_sha256, render
from compliance.reports.scope import Scope, ScopeError, scope_build
from compliance.services import Person, account

log = logging.getLogger(__name__)
REPORTS_DIR = "reports"
FORMATS = {choice.value for choice in Report.Format}


def reports_root() -> Path:
    return Path(settings.DATA_DIR) / REPORTS_DIR


def _audit(*, report: Report, action: str, by: Person | None, at: datetime) -> AuditEvent:
    user = account(by)
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else report.generated_by_name,
        action=action,
        object_type="report",
        object_id=str(report.pk),
        cluster_id=report.cluster_id,
        cluster_name=report.cluster_name,
        after={
            "guide": report.guide,
            "scope": report.scope_label,
            "period": report.period_label,
            "format": report.format,
            "file_sha256": report.file_sha256 or None,
        },
        at=at,
    )


def _row(*, scope: Scope, format: str, by: Person | None, by_name: str, now: datetime) -> Report:
    if format not in FORMATS:
        raise ScopeError(f"unknown format {format!r}; use one of {', '.join(sorted(FORMATS))}")
    user = account(by)
    return Report.objects.create(
        cluster=scope.cluster,
        cluster_name=scope.cluster.name if scope.cluster else "",
        environment=scope.environment,
        guide=scope.guide.slug,
        period_start=scope.start,
        period_end=scope.end,
        format=format,
        generated_by=user,
        generated_by_name=by_name or (user.get_username() if user else "Rampart"),
        created_at=now,
    )


def report_request(*, scope: Scope, format: str, by: Person, now: datetime | None = None) -> Report:
    """A pending report, built by the generate_report task once this transaction commits."""
    from compliance.tasks import generate_report

    now = now or timezone.now()
    with transaction.atomic():
        report = _row(scope=scope, format=format, by=by, by_name="", now=now)
        _audit(report=report, action="report.request", by=by, at=now)
        transaction.on_commit(lambda: generate_report.delay(report.pk))
    return report


def scope_of(report: Report) -> Scope:
    """The scope a report row was asked for (checked again: the cluster may be gone)."""
    if report.cluster_name and report.cluster_id is None:
        raise ScopeError(f"cluster {report.cluster_name} no longer exists")
    cluster = Cluster.objects.get(pk=report.cluster_id) if report.cluster_id else None
    return scope_build(
        guide=report.guide,
        cluster=cluster,
        environment=report.environment,
        as_of=None if report.period_start else report.period_end,
        start=report.period_start,
        end=report.period_end if report.period_start else None,
        today=max(timezone.localdate(), report.period_end),
    )


def report_data(
    scope: Scope,
    *,
    generated_by: str,
    generated_at: datetime,
    progress: Callable[[int, str], None] | None = None,
) -> dict[str, Any]:
    build = fleet_report if scope.is_fleet else cluster_report
    return build(scope, generated_by=generated_by, generated_at=generated_at, progress=progress)


def _progress(report: Report) -> Callable[[int, str], None]:
    def update(percent: int, stage: str) -> None:
        # Outside any transaction, so the page polling the row sees it move.
        Report.objects.filter(pk=report.pk).update(progress=percent, stage=stage[:80])

    return update


def _write(report: Report, content: bytes) -> str:
    """The file's path relative to DATA_DIR, written whole before it is named."""
    relative = Path(REPORTS_DIR) / f"{report.created_at:%Y/%m}" / report.filename
    target = Path(settings.DATA_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(content)
    partial.replace(target)
    return str(relative)


def _build(report: Report) -> bytes:
    progress = _progress(report)
    progress(5, "reading stored verdicts")
    # A report allocates millions of objects (a fleet's checklists, WeasyPrint's boxes); each
    # full collection walked them all: 15-20 % of the PDF's CPU, for the same peak RSS.
    with gc_paused(cycles=True):
        data = report_data(
            scope_of(report),
            generated_by=report.generated_by_name,
            generated_at=report.created_at,
            progress=progress,
        )
        fingerprint = content_sha256(data)
        progress(70, f"rendering {report.format.upper()}")
        rendered = render(data, format=report.format, fingerprint=fingerprint)
    progress(95, "storing the file")
    report.file_path = _write(report, rendered.content)
    report.file_size = len(rendered.content)
    report.pages = rendered.pages
    report.content_sha256 = fingerprint
    report.file_sha256 = hashlib.sha256(rendered.content).hexdigest()
    report.status = Report.Status.DONE
    report.progress = 100
    report.stage = "ready"
    report.finished_at = timezone.now()
    report.save()
    return rendered.content


def report_build(*, report_id: int) -> Report | None:
    """Build a pending report. Idempotent: a row already claimed, done or gone is left be."""
    claimed = Report.objects.filter(pk=report_id, status=Report.Status.PENDING).update(
        status=Report.Status.RUNNING, progress=1, stage="starting"
    )
    if not claimed:
        return None
    report = Report.objects.select_related("generated_by").get(pk=report_id)
    try:
        _build(report)
    except ScopeError as exc:
        Report.objects.filter(pk=report_id).update(
            status=Report.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        return Report.objects.get(pk=report_id)
    except Exception as exc:
        log.exception("report %s failed", report_id)
        Report.objects.filter(pk=report_id).update(
            status=Report.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    return report


def report_issue(
    *, scope: Scope, format: str, by_name: str, by: Person | None = None
) -> tuple[Report, bytes]:
    """Build a report in this process (the command line), recorded like any other."""
    now = timezone.now()
    report = _row(scope=scope, format=format, by=by, by_name=by_name, now=now)
    Report.objects.filter(pk=report.pk).update(status=Report.Status.RUNNING)
    try:
        content = _build(report)
    except Exception:
        Report.objects.filter(pk=report.pk).update(
            status=Report.Status.FAILED, error="build failed", finished_at=timezone.now()
        )
        raise
    _audit(report=report, action="report.issue", by=by, at=report.finished_at or now)
    return report, content


def report_verify(*, content: bytes) -> Report | None:
    """The report Rampart issued as exactly these bytes, if any."""
    digest = hashlib.sha256(content).hexdigest()
    return (
        Report.objects.filter(file_sha256=digest, status=Report.Status.DONE)
        .select_related("cluster")
        .order_by("created_at")
        .first()
    )


def report_file(report: Report) -> Path:
    path = (Path(settings.DATA_DIR) / report.file_path).resolve()
    if not report.file_path or reports_root().resolve() not in path.parents:
        raise FileNotFoundError(report.file_path)
    return path


def report_download(*, report: Report, by: Person, now: datetime | None = None) -> Path:
    """The stored file of a finished report; the download is recorded in the audit log."""
    path = report_file(report)
    if not path.is_file():
        raise FileNotFoundError(report.file_path)
    _audit(report=report, action="report.download", by=by, at=now or timezone.now())
    return path


def export_audit(
    *, cluster: Cluster, guide: str, format: str, by: Person, at: datetime
) -> AuditEvent:
    """A checklist CSV/JSON download, in the audit log like a report's."""
    user = account(by)
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        action="checklist.export",
        object_type="checklist",
        object_id=guide,
        cluster=cluster,
        cluster_name=cluster.name,
        after={"guide": guide, "format": format},
        at=at,
    )
