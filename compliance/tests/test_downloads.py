"""CSV and JSON downloads of a cluster's findings (with their lifecycle) and of the audit log:
the same rows in both formats, permission-checked, each download itself in the audit log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from django.core.management import call_command
from django.urls import reverse

from clusters.models import Cluster
from clusters.services import cluster_register
from compliance.exports import rows_csv
from compliance.models import AuditEvent
from posture.finding_exports import FINDING_COLUMNS, duration_text
from posture.models import Finding

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"


@pytest.fixture
def storefront() -> Cluster:
    cluster = cluster_register(
        name="storefront-staging",
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=DEMO / "storefront-staging",
    )
    call_command("collect", cluster.name, "--sync")
    return cluster


def download(client, name: str, fmt: str, query: str = ""):
    url = reverse("findings_download", kwargs={"name": name, "fmt": fmt})
    return client.get(url + query)


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_it_downloads_every_finding_with_its_lifecycle_in_both_formats(storefront, auditor):
    finding = Finding.objects.for_cluster(storefront).order_by("pk").first()
    assert finding is not None
    finding.resolve(
        evaluation=storefront.latest_evaluation, at=finding.opened_at + timedelta(hours=50)
    )
    finding.times_reopened = 1
    finding.save()

    as_csv = download(auditor, storefront.name, "csv")
    as_json = download(auditor, storefront.name, "json")

    assert as_csv.status_code == as_json.status_code == 200
    assert as_csv["Content-Disposition"].startswith('attachment; filename="storefront-staging-')
    rows = csv_rows(as_csv)
    document = orjson.loads(as_json.content)
    assert len(rows) == len(document["findings"]) == Finding.objects.for_cluster(storefront).count()
    assert list(rows[0]) == list(FINDING_COLUMNS)
    by_id = {(r["check_id"], r["kind"], r["namespace"], r["name"], r["field"]): r for r in rows}
    resolved = by_id[
        (finding.check_id, finding.kind, finding.namespace, finding.name, finding.field)
    ]
    assert resolved["status"] == "resolved"
    assert resolved["time_to_fix_seconds"] == str(50 * 3600)
    assert resolved["time_to_fix"] == "2d 2h"
    assert resolved["times_reopened"] == "1"
    assert resolved["first_seen_at"] and resolved["last_seen_at"] and resolved["resolved_at"]
    for row, item in zip(rows, document["findings"], strict=True):  # same rows, same order
        assert row["check_id"] == item["check_id"] and row["name"] == item["name"]
    miner = [r for r in rows if r["check_id"] == "supply_chain.miner_images"]
    assert miner and miner[0]["status"] == "open" and miner[0]["time_to_fix"] == ""

    events = AuditEvent.objects.filter(action="export.download", object_type="findings")
    assert events.count() == 2
    event = events.filter(object_id="csv").get()
    assert event.actor_name == auditor.user.username and event.cluster_name == storefront.name
    assert event.after == {"format": "csv", "rows": len(rows), "filters": {}}


def test_it_filters_findings_by_status(storefront, auditor):
    open_rows = csv_rows(download(auditor, storefront.name, "csv", "?status=open"))
    assert open_rows and {row["status"] for row in open_rows} == {"open"}
    assert csv_rows(download(auditor, storefront.name, "csv", "?status=resolved")) == []


def test_it_refuses_unknown_formats_and_clusters_one_may_not_see(storefront, auditor, outsider):
    assert download(auditor, storefront.name, "xlsx").status_code == 404
    assert download(outsider, storefront.name, "csv").status_code in (403, 404)
    assert not AuditEvent.objects.filter(action="export.download").exists()


def test_it_downloads_the_filtered_audit_log_and_records_the_download(
    storefront, auditor, engineer
):
    call_command("collect", storefront.name, "--sync")
    total = AuditEvent.objects.count()
    url = reverse("audit_log_download", kwargs={"fmt": "json"})

    first = orjson.loads(auditor.get(url).content)
    again = orjson.loads(auditor.get(url + "?action=export.download").content)
    as_csv = auditor.get(reverse("audit_log_download", kwargs={"fmt": "csv"}))

    assert len(first["events"]) == total  # a file never lists its own download
    assert [e["action"] for e in again["events"]] == ["export.download"]
    assert again["filters"] == {"action": "export.download"}
    assert again["events"][0]["after"]["rows"] == total
    rows = csv_rows(as_csv)
    assert len(rows) == total + 2
    assert AuditEvent.objects.filter(action="export.download", object_type="audit_log").count() == 3
    html = auditor.get(reverse("audit_log") + "?action=export.download").content.decode()
    assert "/audit/export/csv/?action=export.download" in html


def test_it_lets_only_who_may_read_the_audit_log_download_it(engineer, outsider):
    url = reverse("audit_log_download", kwargs={"fmt": "csv"})
    assert outsider.get(url).status_code == 403
    assert not AuditEvent.objects.filter(action="export.download").exists()


def test_it_keeps_spreadsheet_formulas_out_of_csv_cells():
    content = rows_csv([{"a": "=HYPERLINK(1)", "b": {"x": 1}}], ["a", "b"]).decode()
    assert "'=HYPERLINK(1)" in content and '"{""x"":1}"' in content


def test_it_writes_durations_as_people_read_them():
    assert [duration_text(s) for s in (40, 125, 3 * 3600 + 60, 90_000)] == [
        "40s",
        "2m 5s",
        "3h 1m",
        "1d 1h",
    ]
