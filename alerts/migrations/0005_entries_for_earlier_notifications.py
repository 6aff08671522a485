"""Notifications recorded before grouping keep reading as before, and count as told.

Each such notification told one regression (its dedup key is the regression's): it gets the
entry that says so, so a regression a later scan finds again (a waiver expiring, a failing
streak) is not told twice across the upgrade. Those not sent yet get the grouped payload the
templates now render. The waiver-notification reader starts at the migration: requests and
decisions made before it are not news.
"""

from django.db import migrations
from django.utils import timezone

BATCH = 1000
FINDING_KINDS = {"new_findings", "reopened_findings", "check_failing"}
CLUSTER_KINDS = {"score_drop", "coverage_drop", "collections_failing", "data_stale"}
GOVERNANCE_KINDS = {
    "waiver_expiring",
    "waiver_expired",
    "attestation_expiring",
    "attestation_expired",
}
WAIVER_CURSOR = "waiver-notifications"  # alerts.approvals.CURSOR


def grouped(kind, payload):  # type: ignore[no-untyped-def]
    """A one-regression payload as alerts.summaries writes one (format 2), frozen here."""
    severity = payload.get("severity", "")
    result = {
        "format": 2,
        "kind": kind,
        "kind_label": payload.get("kind_label", kind),
        "cluster": payload.get("cluster", ""),
        "at": "",
        "score": [None, None],
        "coverage": [None, None],
        "evaluations": None,
        "severity": severity,
        "counts": {"new": {}, "reopened": {}},
        "findings": [],
        "cluster_alerts": [],
        "governance": [],
        "headline": payload.get("title", ""),
    }
    if kind in FINDING_KINDS:
        word = "reopened" if kind == "reopened_findings" else "new"
        total = payload.get("evidence_total", 0)
        evidence = payload.get("evidence", [])
        result["counts"][word] = {severity: total} if total else {}
        result["findings"] = [
            {
                "check_id": payload.get("check_id", ""),
                "check_title": payload.get("check_title") or payload.get("check_id", ""),
                "severity": severity,
                "now_failing": kind == "check_failing",
                "new": 0 if word == "reopened" else total,
                "reopened": total if word == "reopened" else 0,
                "objects": [
                    {
                        **item,
                        "workload": " ".join(
                            part
                            for part in (
                                item.get("kind", ""),
                                "/".join(
                                    p
                                    for p in (item.get("namespace", ""), item.get("name", ""))
                                    if p
                                ),
                            )
                            if part
                        ),
                        "reopened": word == "reopened",
                    }
                    for item in evidence
                ],
                "more": max(0, total - len(evidence)),
            }
        ]
    elif kind in CLUSTER_KINDS:
        result["cluster_alerts"] = [payload]
    elif kind in GOVERNANCE_KINDS:
        result["governance"] = [payload]
    return result


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    Notification = apps.get_model("alerts", "Notification")
    NotificationEntry = apps.get_model("alerts", "NotificationEntry")
    AuditCursor = apps.get_model("alerts", "AuditCursor")
    earlier = Notification.objects.exclude(kind="test").order_by("pk")
    rows = earlier.values_list("pk", "recipient", "dedup_key", "kind", "severity")
    batch = []
    for pk, recipient, dedup_key, kind, severity in rows.iterator(chunk_size=BATCH):
        batch.append(
            NotificationEntry(
                notification_id=pk,
                recipient=recipient,
                dedup_key=dedup_key,
                kind=kind,
                severity=severity,
            )
        )
        if len(batch) >= BATCH:
            NotificationEntry.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    NotificationEntry.objects.bulk_create(batch, ignore_conflicts=True)
    for notification in earlier.filter(status__in=["pending", "sending"]).iterator():
        if notification.payload.get("format") != 2:
            notification.payload = grouped(notification.kind, notification.payload)
            notification.save(update_fields=["payload"])
    AuditCursor.objects.get_or_create(name=WAIVER_CURSOR, defaults={"read_until": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [("alerts", "0004_grouped_notifications")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
