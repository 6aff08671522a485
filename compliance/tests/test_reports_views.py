"""Report pages: Aude (auditor) generates and downloads; nobody without a role sees any.

The task is run as the worker runs it: the page enqueues it on commit, the test calls the task
function with the id it was given.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from unittest import mock

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.tests.factories import make_cluster, make_evaluation, make_run
from compliance import services as compliance_services
from compliance.models import AuditEvent, Report, Waiver
from compliance.reports import services
from compliance.reports.scope import scope_build
from compliance.tasks import generate_report

pytestmark = pytest.mark.django_db


def _generate(client, url, data, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(generate_report, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(url, data)
    return response, delay


def test_it_lets_an_auditor_generate_and_download_a_report(
    cluster, auditor, django_capture_on_commit_callbacks
):
    url = reverse("cluster_reports", kwargs={"name": cluster.name})
    assert auditor.get(url).status_code == 200
    response, delay = _generate(
        auditor,
        url,
        {"guide": "cis-kubernetes", "format": "csv"},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302
    report = Report.objects.get()
    delay.assert_called_once_with(report.pk)  # enqueued after commit, with the id only
    assert report.status == Report.Status.PENDING
    assert report.generated_by == auditor.user

    assert generate_report(report.pk) == Report.Status.DONE
    report.refresh_from_db()
    assert (report.progress, report.stage) == (100, "ready")
    assert report.file_sha256 and report.content_sha256

    page = auditor.get(url).content.decode()
    assert "aude" in page and reverse("report_download", args=[report.pk]) in page
    download = auditor.get(reverse("report_download", args=[report.pk]))
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    body = b"".join(download.streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert "fail" in {row["status"] for row in rows}
    event = AuditEvent.objects.get(action="report.download")
    assert (event.actor, event.object_id, event.cluster_name) == (
        auditor.user,
        str(report.pk),
        cluster.name,
    )


def test_it_runs_the_task_once_however_often_it_is_delivered(cluster, engineer):
    scope = scope_build(guide="pss", cluster=cluster)
    with mock.patch.object(generate_report, "delay"):
        report = services.report_request(scope=scope, format="json", by=engineer.user)
    stages = []
    real = services._progress

    def recording(report):
        update = real(report)

        def record(percent, stage):
            stages.append(percent)
            update(percent, stage)

        return record

    with mock.patch.object(services, "_progress", recording):
        assert generate_report(report.pk) == Report.Status.DONE
    assert stages == sorted(stages) and stages[0] < 50 < stages[-1]
    assert generate_report(report.pk) == "skipped"  # a redelivery finds it done
    assert generate_report(999_999) == "skipped"  # a deleted row
    report.refresh_from_db()
    assert (report.status, report.progress) == (Report.Status.DONE, 100)
    document = orjson.loads(services.report_file(report).read_bytes())
    assert document["report"]["content_sha256"] == report.content_sha256


def test_it_records_a_failure_the_page_can_show(cluster, engineer):
    scope = scope_build(guide="pss", cluster=cluster)
    with mock.patch.object(generate_report, "delay"):
        report = services.report_request(scope=scope, format="pdf", by=engineer.user)
    cluster.delete()
    report.refresh_from_db()
    assert generate_report(report.pk) == Report.Status.FAILED
    report.refresh_from_db()
    assert "no longer exists" in report.error


def test_it_shows_progress_in_the_polled_list(cluster, auditor):
    Report.objects.create(
        cluster=cluster,
        cluster_name=cluster.name,
        guide="pss",
        period_end=timezone.localdate(),
        format="pdf",
        generated_by_name="aude",
        status=Report.Status.RUNNING,
        progress=40,
        stage="checklist read",
    )
    partial = auditor.get(reverse("cluster_reports_list", kwargs={"name": cluster.name}))
    html = partial.content.decode()
    assert 'data-poll-url="' in html and "40 %" in html and "<script" not in html
    Report.objects.update(status=Report.Status.DONE, progress=100)
    html = auditor.get(reverse("cluster_reports_list", kwargs={"name": cluster.name})).content
    assert b"data-poll-url" not in html  # polling stops once nothing builds


def test_it_refuses_an_auditor_every_post_that_changes_a_result(cluster, auditor, engineer):
    waiver = compliance_services.waiver_request(
        cluster=cluster,
        check_id="access.csr_approval",
        by=engineer.user,
        owner_email="platform@example.com",
        reason="Bot replaced next sprint.",
        expires_at=timezone.now() + timedelta(days=7),
    )
    for url in (
        reverse("waiver_approve", kwargs={"pk": waiver.pk}),
        reverse("waiver_revoke", kwargs={"pk": waiver.pk}),
        reverse(
            "attestation_create",
            kwargs={"name": cluster.name, "guide": "cis-kubernetes", "item_id": "5.4.2"},
        ),
    ):
        assert auditor.post(url, {"justification": "x"}).status_code == 403, url
    assert Waiver.objects.get().approved_at is None


def test_it_shows_nothing_to_someone_without_a_role(cluster, outsider, engineer):
    report, _ = services.report_issue(
        scope=scope_build(guide="pss", cluster=cluster), format="csv", by_name="erin"
    )
    for url in (
        reverse("cluster_reports", kwargs={"name": cluster.name}),
        reverse("fleet_reports"),
        reverse("report_download", args=[report.pk]),
        reverse("checklist_export", kwargs={"name": cluster.name, "guide": "pss", "format": "csv"}),
    ):
        assert outsider.get(url).status_code == 403, url
    assert outsider.post(reverse("fleet_reports"), {"guide": "pss"}).status_code == 403
    assert not AuditEvent.objects.filter(action="report.download").exists()


def test_it_refuses_a_bad_period_on_the_form(cluster, engineer):
    url = reverse("fleet_reports")
    today = timezone.localdate()
    response = engineer.post(
        url,
        {"guide": "pss", "format": "pdf", "start": today, "end": today - timedelta(days=3)},
    )
    assert response.status_code == 200
    assert "after it ends" in response.content.decode()
    assert not Report.objects.exists()


def test_it_exports_the_checklist_as_the_command_line_writes_it(cluster, auditor, tmp_path):
    from django.core.management import call_command

    output = tmp_path / "cli.csv"
    call_command(
        "compliance_report", cluster.name, "--guide", "cis-kubernetes", "--output", str(output)
    )
    url = reverse(
        "checklist_export",
        kwargs={"name": cluster.name, "guide": "cis-kubernetes", "format": "csv"},
    )
    response = auditor.get(url)
    assert response.status_code == 200
    assert response.content == output.read_bytes()
    as_json = auditor.get(url.replace("export.csv", "export.json"))
    items = orjson.loads(as_json.content)["items"]
    failing = next(item for item in items if item["status"] == "fail")
    assert len(failing["affected"]) == failing["affected_count"] > 0
    assert AuditEvent.objects.filter(action="checklist.export", actor=auditor.user).count() == 2
    page = auditor.get(reverse("checklist", kwargs={"name": cluster.name, "guide": "pss"}))
    assert b"export.csv" in page.content and b"export.json" in page.content


@pytest.mark.parametrize(
    ("distribution", "version", "first"),
    [("", "v1.31.4", "cis-kubernetes"), ("gke", "v1.31.4-gke.1200", "gke-hardening")],
)
def test_it_offers_the_cluster_s_primary_guide_first(auditor, distribution, version, first):
    cluster = make_cluster("by-distribution")
    run = make_run(cluster, distribution=distribution, kubernetes_version=version)
    make_evaluation(cluster, run=run)

    page = auditor.get(reverse("cluster_reports", kwargs={"name": cluster.name})).content
    options = page.decode().split('name="guide"', 1)[1].split("</select>", 1)[0]

    assert options.index(f'value="{first}"') < options.index('value="nsa-cisa"')
    assert f'value="{first}" selected' in options
