"""Findings as rows for CSV and JSON downloads: each finding with its lifecycle.

One row per finding (cluster + check + owning object + field, posture/findings.py), as the
reconcile left it (posture/reconcile.py): when it was first and last seen, when its current
episode opened and (if it did) resolved, how often it came back, and its time to fix — the
latest episode's opened -> resolved, which is what `FindingQuerySet.time_to_fix` averages.
Reads stored rows only; nothing here judges.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from posture.checks.base import REGISTRY
from posture.models import Finding

FINDING_COLUMNS = (
    "cluster",
    "check_id",
    "check_title",
    "severity",
    "status",
    "kind",
    "namespace",
    "name",
    "field",
    "detail",
    "first_seen_at",
    "last_seen_at",
    "opened_at",
    "resolved_at",
    "times_reopened",
    "time_to_fix_seconds",
    "time_to_fix",
)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def duration_text(seconds: int) -> str:
    """`3d 4h`, `2h 5m`, `40s`: how long a finding stayed open, as a person reads it."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def finding_row(finding: Finding, cluster_name: str) -> dict[str, Any]:
    check = REGISTRY.get(finding.check_id)
    fixed = (
        int((finding.resolved_at - finding.opened_at).total_seconds())
        if finding.status == Finding.Status.RESOLVED and finding.resolved_at
        else None
    )
    return {
        "cluster": cluster_name,
        "check_id": finding.check_id,
        "check_title": check.title if check else finding.check_id,
        "severity": finding.severity,
        "status": finding.status,
        "kind": finding.kind,
        "namespace": finding.namespace,
        "name": finding.name,
        "field": finding.field,
        "detail": finding.detail,
        "first_seen_at": _iso(finding.first_seen_at),
        "last_seen_at": _iso(finding.last_seen_at),
        "opened_at": _iso(finding.opened_at),
        "resolved_at": _iso(finding.resolved_at),
        "times_reopened": finding.times_reopened,
        "time_to_fix_seconds": fixed,
        "time_to_fix": duration_text(fixed) if fixed is not None else "",
    }


def finding_rows(findings: Iterable[Finding], cluster_name: str) -> list[dict[str, Any]]:
    return [finding_row(finding, cluster_name) for finding in findings]
