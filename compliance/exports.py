"""CSV and JSON downloads of the findings and of the audit log, and the record of each one.

Row builders read stored rows only (posture.finding_exports for findings); `rows_csv` and
`rows_json` render any row list the same way, so the two formats always agree. Every download
is itself an audit event (`export.download`): who took which data, filtered how, how many rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from django.utils import timezone

from clusters.models import Cluster
from compliance.models import AuditEvent
from compliance.services import Person, account

AUDIT_COLUMNS = (
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "cluster",
    "before",
    "after",
)
FORMATS = ("csv", "json")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def audit_rows(events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    return [
        {
            "at": event.at.isoformat(),
            "actor": event.actor_name or "Rampart",
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "cluster": event.cluster_name,
            "before": event.before,
            "after": event.after,
        }
        for event in events
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def rows_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue().encode()


def rows_json(rows: Sequence[Mapping[str, Any]], *, key: str, **meta: Any) -> bytes:
    return orjson.dumps({**meta, key: list(rows)}, option=orjson.OPT_INDENT_2)


def download_record(
    *,
    by: Person | None,
    what: str,
    fmt: str,
    rows: int,
    filters: Mapping[str, str],
    cluster: Cluster | None = None,
) -> AuditEvent:
    """The audit event of one download: `what` is "findings" or "audit_log"."""
    user = account(by)
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        action="export.download",
        object_type=what,
        object_id=fmt,
        cluster=cluster,
        cluster_name=cluster.name if cluster else "",
        after={"format": fmt, "rows": rows, "filters": dict(filters)},
        at=timezone.now(),
    )
