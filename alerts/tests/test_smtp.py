"""A regression email reaches a cluster owner's inbox exactly once: over real SMTP (the
`collect --sync` path, sent in process) and through the locmem outbox (the worker path)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command

from alerts.models import Notification
from alerts.tasks import send_notification
from alerts.tests.conftest import Inbox, text_part, upload, write_bundle
from clusters.models import Cluster
from clusters.services import cluster_register
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db
SUBJECT = "[Rampart] shop: 1 new high finding: Privileged containers"


def register(tmp_path: Path) -> Cluster:
    return cluster_register(
        name="shop",
        source_kind=Cluster.SourceKind.BUNDLE,
        owners=["owner@example.com"],
        bundle_path=write_bundle(tmp_path / "v1"),
    )


def change(tmp_path: Path) -> Path:
    # A rolling update (new hash, pods, tag) that also adds a privileged sidecar: one regression.
    return write_bundle(
        tmp_path / "v2",
        pod_hash="5c8d7b9f4",
        pod_suffix="q7w4z",
        image="nginx:1.25.4",
        sidecar=True,
    )


def test_it_emails_a_regression_to_the_owner_over_real_smtp_once(
    tmp_path: Path, smtp_inbox: Inbox, settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.SITE_URL = "https://rampart.example.com"
    cluster = register(tmp_path)
    call_command("collect", "shop", "--sync")  # the baseline: nothing is news yet
    assert smtp_inbox.envelopes == []

    upload(cluster, change(tmp_path))
    call_command("collect", "shop", "--sync")
    assert "1 regression email(s) sent" in capsys.readouterr().out
    [envelope] = smtp_inbox.envelopes
    assert envelope.rcpt_tos == ["owner@example.com"]
    [message] = smtp_inbox.messages
    assert message["Subject"] == SUBJECT
    body = text_part(message)
    assert 'Deployment web/api: container "sidecar": securityContext.privileged=true' in body
    assert "https://rampart.example.com/clusters/shop/checks/isolation.privileged/" in body
    assert "https://rampart.example.com/alerts/unsubscribe/" in body
    assert "sidecar" in text_part(message, "html")

    # Collecting the same evidence again changes nothing and emails nobody.
    upload(cluster, change(tmp_path))
    call_command("collect", "shop", "--sync")
    assert len(smtp_inbox.envelopes) == 1
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("sent", 1)


def test_it_emails_a_regression_through_the_worker_path_once(
    tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    cluster = register(tmp_path)
    assert collection_execute(run_id=cluster.runs.get().pk) is not None
    run = upload(cluster, change(tmp_path))
    with (
        mock.patch.object(send_notification, "delay", side_effect=send_notification) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        collection_execute(run_id=run.pk)
        assert mail.outbox == []  # nothing leaves before the collection commits
    delay.assert_called_once()
    [message] = mail.outbox
    assert message.subject == SUBJECT and message.to == ["owner@example.com"]
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert ">Deployment web/api</td>" in html
