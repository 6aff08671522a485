"""Reports of the demo fleet, issued by the real command and read back with pdftotext.

The demo fleet (`load_demo`, two weeks of history, then each registration's collection) is
loaded once for the class. Every figure checked comes from the stored evaluation directly, not
from the report code: the score, and each item's stored status counted by status.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections import Counter
from datetime import timedelta
from io import StringIO
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from clusters.models import Cluster, CollectionRun
from compliance.models import Report
from posture.guides import guide_get
from posture.status import Status

DEMO = {
    "payments-prod": "gke-hardening",
    "storefront-staging": "cis-gke",
    "edge-dev": "cis-kubernetes",
    "orders-eks": "nsa-cisa",
}
SECTIONS = (
    "Rampart compliance report",
    "1. Executive summary",
    "Top risks",
    "2. Checklist",
    "3. Evidence for failing items",
    "4. Attestations",
    "5. Waivers",
    "6. Changes in the period",
    "Time to fix",
    "7. Methodology",
    "How changes are counted",
    "Data freshness",
    "8. Fingerprint",
)
COUNT_LABELS = {status.value: Status.label_of(status) for status in Status}


@pytest.fixture(scope="class")
def demo_fleet(django_db_setup, django_db_blocker):
    from pipeline.collection import collection_execute

    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo", "--history-days", "14", stdout=StringIO())
        for run in CollectionRun.objects.filter(status=CollectionRun.Status.PENDING):
            collection_execute(run_id=run.pk, send_alerts_inline=True)
        yield
        transaction.set_rollback(True)


def pdf_text(path: Path) -> str:
    done = subprocess.run(
        ["/usr/bin/pdftotext", "-layout", str(path), "-"], capture_output=True, check=True
    )
    return done.stdout.decode()


def stored_counts(name: str, guide: str) -> Counter[str]:
    """Each guide item's status as the latest evaluation stored it (unknown when absent)."""
    evaluation = Cluster.objects.get(name=name).latest_evaluation
    assert evaluation is not None
    stored = evaluation.verdict_set.items.get(guide, {})
    found = guide_get(guide)
    assert found is not None
    return Counter(
        (lambda v: v if isinstance(v, str) else v[0])(stored.get(item.id, Status.UNKNOWN))
        for item in found.items
    )


def issue(*args: str) -> str:
    out = StringIO()
    call_command("compliance_report", *args, stdout=out)
    return out.getvalue()


def counts_line(text: str) -> dict[str, int]:
    line = next(row for row in text.splitlines() if row.strip().startswith("Counts:"))
    found = {}
    for status, label in COUNT_LABELS.items():
        match = re.search(re.escape(label) + r" (\d+)", line)
        if match:
            found[status] = int(match.group(1))
    return found


@pytest.mark.slow
@pytest.mark.usefixtures("db", "demo_fleet")
class TestDemoReports:
    def test_it_prints_every_section_with_the_stored_figures_for_each_demo_cluster(self, tmp_path):
        for name, guide in DEMO.items():
            output = tmp_path / f"{name}.pdf"
            issue(name, "--guide", guide, "--output", str(output))
            text = pdf_text(output)
            flat = " ".join(text.split())
            for section in SECTIONS:
                assert section in flat, (name, section)
            evaluation = Cluster.objects.get(name=name).latest_evaluation
            assert evaluation is not None and evaluation.score is not None
            assert f"{evaluation.score:.1f}" in flat, name
            assert f"{evaluation.coverage:.1f} %" in flat, name
            expected = stored_counts(name, guide)
            shown = counts_line(text)
            for status in (
                "pass",
                "fail",
                "manual",
                "attested",
                "waived",
                "not_applicable",
                "unknown",
            ):
                assert shown.get(status, 0) == expected.get(status, 0), (name, status)
            report = Report.objects.get(file_sha256__isnull=False, cluster__name=name)
            assert report.content_sha256 in flat
            assert guide_get(guide).title in flat  # type: ignore[union-attr]

    def test_it_verifies_the_issued_file_and_refuses_one_changed_byte(self, tmp_path):
        output = tmp_path / "payments.pdf"
        issue("payments-prod", "--guide", "gke-hardening", "--output", str(output))
        said = issue("--verify", str(output))
        assert "was issued by Rampart" in said
        assert "payments-prod" in said and "gke-hardening" in said and "command line" in said
        tampered = tmp_path / "tampered.pdf"
        content = bytearray(output.read_bytes())
        content[len(content) // 2] ^= 0x01
        tampered.write_bytes(bytes(content))
        with pytest.raises(CommandError, match="NOT issued"):
            issue("--verify", str(tampered))

    def test_it_agrees_between_pdf_csv_and_json(self, tmp_path):
        paths = {fmt: tmp_path / f"r.{fmt}" for fmt in ("pdf", "csv", "json")}
        for path in paths.values():
            issue("payments-prod", "--guide", "gke-hardening", "--output", str(path))
        pdf = counts_line(pdf_text(paths["pdf"]))
        rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
        assert list(rows[0]) == [
            "id",
            "title",
            "status",
            "evidence_summary",
            "affected_count",
            "attestation",
            "waiver",
        ]
        document = orjson.loads(paths["json"].read_bytes())
        assert Counter(row["status"] for row in rows) == Counter(
            row["status"] for row in document["items"]
        )
        assert {k: v for k, v in pdf.items() if v} == dict(Counter(r["status"] for r in rows))
        for row, item in zip(rows, document["items"], strict=True):
            assert row["id"] == item["id"] and int(row["affected_count"]) == item["affected_count"]
            assert len(item["affected"]) == item["affected_count"]  # every object, uncapped

    def test_it_builds_a_fleet_report_of_every_cluster_and_one_environment(self, tmp_path):
        output = tmp_path / "fleet.pdf"
        said = issue("--fleet", "--guide", "pss", "--output", str(output))
        assert "fleet (all clusters)" in said
        flat = " ".join(pdf_text(output).split())
        for section in SECTIONS:
            assert section in flat, section
        for name in DEMO:
            assert name in flat
        environment = Cluster.objects.get(name="payments-prod").environment
        json_out = tmp_path / "fleet.json"
        issue("--fleet", "--environment", environment, "--guide", "pss", "--output", str(json_out))
        document = orjson.loads(json_out.read_bytes())
        members = set(
            Cluster.objects.filter(environment=environment).values_list("name", flat=True)
        )
        assert set(document["report"]["clusters"]) == members
        total = sum(document["report"]["counts"].values())
        assert total == len(members) * len(guide_get("pss").items)  # type: ignore[union-attr]

    def test_it_reports_a_past_period_from_the_evaluations_of_that_time(self, tmp_path):
        today = timezone.localdate()
        start, end = today - timedelta(days=10), today - timedelta(days=5)
        output = tmp_path / "period.json"
        issue(
            "payments-prod",
            "--guide",
            "gke-hardening",
            "--from",
            str(start),
            "--to",
            str(end),
            "--output",
            str(output),
        )
        document = orjson.loads(output.read_bytes())
        assert document["report"]["period_start"] == str(start)
        cutoff = Report.objects.latest("pk").period_end
        assert cutoff == end
        evaluated = (
            Cluster.objects.get(name="payments-prod")
            .evaluations.filter(created_at__date__lte=end)
            .latest("created_at")
        )
        assert document["report"]["score"] == evaluated.score


@pytest.mark.django_db
class TestCommandInput:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["nope", "--guide", "pss", "--output", "x.pdf"], "no cluster named"),
            (["--fleet", "--guide", "nope", "--output", "x.pdf"], "unknown guide"),
            (["--fleet", "--guide", "pss", "--output", "x.txt"], "extension"),
            (["--fleet", "--guide", "pss"], "--output"),
            (["--fleet", "--guide", "pss", "--as-of", "2026-13-01", "--output", "x.pdf"], "date"),
            (
                ["--fleet", "--guide", "pss", "--as-of", "2999-01-01", "--output", "x.pdf"],
                "future",
            ),
            (
                ["--fleet", "--guide", "pss", "--from", "2026-02-01", "--output", "x.pdf"],
                "both",
            ),
            (["--guide", "pss", "--output", "x.pdf"], "--fleet"),
            (["--bogus"], "unrecognized"),
        ],
    )
    def test_it_refuses_bad_input_in_one_line(self, args, message, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(CommandError) as error:
            issue(*args)
        assert message in str(error.value)
        assert "\n" not in str(error.value).strip()

    def test_it_exits_1_without_a_traceback_for_a_file_it_cannot_read(self, tmp_path):
        done = subprocess.run(
            [
                str(Path(__file__).resolve().parents[2] / ".venv/bin/python"),
                "manage.py",
                "compliance_report",
                "--verify",
                str(tmp_path / "missing.pdf"),
            ],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            check=False,
        )
        assert done.returncode == 1
        assert b"Traceback" not in done.stderr
        assert b"cannot read" in done.stderr
