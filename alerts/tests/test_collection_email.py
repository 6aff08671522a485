"""One bundle upload that drops a cluster from 58 to 27: one email per recipient (issue 13).

Tried as a new user would, that upload sent 54 emails (31 to the owner, 23 to a subscriber),
one of them "Check now failing · low" under a high floor. The cluster here is the
payments-prod demo bundle, collected once; then the storefront-staging bundle is uploaded over
it, which fails some twenty checks more. Its owner and Erin, subscribed to the fleet at high
and above, get one email each, over real SMTP and through the worker path; Ada, on a
critical-only daily digest, gets one digest.
"""

from __future__ import annotations

import io
import re
import tarfile
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from alerts import delivery
from alerts.models import Notification, NotificationEntry, Subscription
from alerts.services import alerts_for_run
from alerts.tasks import send_notification
from alerts.tests.conftest import Inbox, outbox_parts, text_part
from clusters.models import Cluster, CollectionRun
from clusters.services import bundle_upload, cluster_register
from pipeline.collection import collection_execute
from pipeline.tasks import collect
from posture.models import Evaluation

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"
SITE = "https://rampart.example.com"
SUBJECT = re.compile(
    r"^\[Rampart\] payments: score (\d+\.\d) → (\d+\.\d), "
    r"\d+ new findings \(\d+ critical, \d+ high\)$"
)


def archive(bundle: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for file in sorted((DEMO / bundle).iterdir()):
            tar.add(file, arcname=file.name)
    return buffer.getvalue()


@pytest.fixture
def payments(engineer: Any, settings: Any) -> Cluster:
    """payments-prod, collected once (the baseline: nothing is news), with an owner and Erin
    subscribed to the whole fleet at high and above."""
    settings.SITE_URL = SITE
    settings.RAMPART_ALERT_MIN_SEVERITY = "high"
    cluster = cluster_register(
        name="payments",
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=DEMO / "payments-prod",
        owners=["owner@example.com"],
    )
    Subscription.objects.create(user=engineer.user, cluster=None, min_severity="high")
    finished = collection_execute(run_id=cluster.runs.get().pk)
    assert finished is not None and finished.status == CollectionRun.Status.SUCCEEDED
    assert not Notification.objects.exists()
    return cluster


def collect_as_the_worker(run: CollectionRun, capture: Any) -> None:
    """The collect task as a worker runs it; the send tasks it enqueues after commit run too."""
    with (
        mock.patch.object(send_notification, "delay", side_effect=send_notification),
        capture(execute=True),
    ):
        assert collect(run.pk) == CollectionRun.Status.SUCCEEDED


def assert_reads_well(body: str, html: str, payload: dict[str, Any]) -> None:
    # Every finding listed with its owning workload and a link to its check; none below high.
    assert {block["severity"] for block in payload["findings"]} == {"critical", "high"}
    for block in payload["findings"]:
        assert f"{block['check_title']} ({block['check_id']})" in body
        assert f"{SITE}/clusters/payments/checks/{block['check_id']}/" in body
        for item in block["objects"]:
            assert f"  - {item['workload']}: {item['detail']}" in body
    assert "[LOW]" not in body and "[MEDIUM]" not in body
    assert (
        "  - Deployment default/system-monitor: container mysql: image docker123321/mysql"
    ) in body
    assert "Now failing: this check passed in the previous collection." in body
    assert "[HIGH] Score drop: score fell from" in body
    assert f"Compare with the previous collection: {SITE}/clusters/payments/compare/?from=" in body
    # The HTML part loads nothing remote and links only to Rampart.
    for link in re.findall(r'(?:href|src)="([^"]*)"', html):
        assert link.startswith(f"{SITE}/"), link
    for remote in ("<img", "<link", "<script", "url(", "@import"):
        assert remote not in html
    assert ">Deployment default/system-monitor</td>" in html


def test_it_emails_the_owner_and_the_subscriber_once_each_over_real_smtp(
    payments, engineer, smtp_inbox: Inbox, django_capture_on_commit_callbacks
) -> None:
    response = engineer.post(
        reverse("cluster_upload", kwargs={"name": "payments"}),
        {"bundle": SimpleUploadedFile("storefront.tar.gz", archive("storefront-staging"))},
    )
    assert response.status_code == 302
    run = payments.runs.get(status=CollectionRun.Status.PENDING)
    collect_as_the_worker(run, django_capture_on_commit_callbacks)

    assert sorted(envelope.rcpt_tos for envelope in smtp_inbox.envelopes) == [
        ["erin@example.com"],
        ["owner@example.com"],
    ]
    before, after = Evaluation.objects.for_cluster(payments).order_by("created_at")
    assert before.score is not None and after.score is not None
    assert before.score - after.score > 25  # 58.4 -> 27.4 on the day this was written
    for message in smtp_inbox.messages:
        subject = str(make_header(decode_header(message["Subject"])))
        match = SUBJECT.match(subject)
        assert match, subject
        assert match.groups() == (f"{before.score:.1f}", f"{after.score:.1f}")
        notification = Notification.objects.get(recipient=message["To"])
        assert (
            message["Message-ID"] == f"<rampart-notification-{notification.pk}@rampart.example.com>"
        )
        assert_reads_well(text_part(message), text_part(message, "html"), notification.payload)
    erin, owner = (text_part(message) for message in sorted(smtp_inbox.messages, key=str))
    assert "You subscribed to fleet alerts: high and above, immediately." in (erin + owner)
    assert "You are an owner of payments." in (erin + owner)

    # A retried task, a re-run of alerting and a redelivered collection send nothing more.
    for notification in Notification.objects.all():
        assert send_notification(notification.pk) == "not claimed"
        assert (notification.status, notification.attempts) == ("sent", 1)
    assert alerts_for_run(run_id=run.pk, send_inline=True) == []
    assert collect(run.pk) == "not claimed"
    assert len(smtp_inbox.envelopes) == 2
    assert Notification.objects.count() == 2


def test_it_sends_the_worker_path_and_a_critical_digest_once_each(
    payments, admin, django_capture_on_commit_callbacks
) -> None:
    Subscription.objects.create(
        user=admin.user, cluster=None, min_severity="critical", delivery="digest"
    )
    run = bundle_upload(
        cluster=payments,
        upload=io.BytesIO(archive("storefront-staging")),
        upload_name="storefront.tar.gz",
        by=None,
    )
    collect_as_the_worker(run, django_capture_on_commit_callbacks)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "erin@example.com",
        "owner@example.com",
    ]
    for message in mail.outbox:
        payload = Notification.objects.get(recipient=message.to[0]).payload
        assert_reads_well(*outbox_parts(message), payload)

    assert delivery.digests_send() == 1
    assert delivery.digests_send() == 0
    digest = mail.outbox[-1]
    assert digest.to == ["ada@example.com"]
    assert digest.subject == "[Rampart] Daily digest for payments: 3 new critical findings"
    body, _ = outbox_parts(digest)
    assert "[HIGH]" not in body  # Ada asked for critical only: no high, no score drop
    assert "  - Deployment default/system-monitor: container mysql:" in body
    # Three people, three emails, and each regression told to each of them once.
    assert len(mail.outbox) == 3
    told = NotificationEntry.objects.values_list("recipient", "dedup_key")
    assert len(told) == len(set(told))
