"""Journey: a regression produces exactly one email per recipient (issue 13, "Done when").

Everything real: Erin subscribes and uploads a bundle in Debian chromium (strict CSP), the
upload view enqueues the collection on Redis, a Celery worker process collects it and sends
the alerts over SMTP to aiosmtpd. The payments-prod demo cluster drops from about 58 to 27 with
the storefront-staging bundle: its owner and Erin each receive one email, nothing more.
"""

from __future__ import annotations

import time
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from accounts.roles import SECURITY_ENGINEER
from accounts.services import user_create
from alerts.models import Notification
from alerts.tests.conftest import Inbox, smtp_inbox, text_part
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from clusters.tests.hostile_archives import tar_gz
from tests.test_browser import PASSWORD, http_cookies, log_in, page
from tests.workers import ROOT, celery_worker, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
DEMO = ROOT / "demo" / "bundles"
SITE = "https://rampart.example.com"
__all__ = ["http_cookies", "page", "smtp_inbox"]  # fixtures this journey shares


def _finished(cluster: Cluster, count: int) -> bool:
    runs = CollectionRun.objects.filter(cluster=cluster)
    return runs.exclude(status__in=CollectionRun.ACTIVE_STATUSES).count() >= count


def test_a_regression_uploaded_in_the_browser_emails_each_recipient_once(
    live_server, page, http_cookies, smtp_inbox: Inbox, tmp_path: Path, settings
) -> None:
    archive = tmp_path / "storefront-staging.tar.gz"
    tar_gz(DEMO / "storefront-staging", archive)
    user_create(
        username="erin", email="erin@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    worker_env = {
        "SITE_URL": SITE,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(settings.EMAIL_PORT),
        "EMAIL_USE_TLS": "false",
        "RAMPART_ALERT_MIN_SEVERITY": "high",
    }
    with celery_worker(extra_env=worker_env):
        cluster = cluster_register(
            name="payments",
            source_kind=Cluster.SourceKind.BUNDLE,
            bundle_path=DEMO / "payments-prod",
            owners=["owner@example.com"],
        )
        wait_for(lambda: _finished(cluster, 1), message="the baseline collection")

        log_in(page, live_server.url, "erin")

        page.goto(f"{live_server.url}/alerts/subscriptions/")
        page.get_by_label("Cluster").select_option("payments")
        page.get_by_label("Minimum severity").select_option("high")
        page.get_by_label("Immediately").check()
        page.get_by_role("button", name="Save subscription").click()
        page.get_by_text("Subscription saved.").wait_for()

        page.goto(f"{live_server.url}/clusters/payments/")
        page.get_by_label("Evidence bundle").set_input_files(str(archive))
        page.get_by_role("button", name="Upload and evaluate").click()
        page.get_by_text("Bundle uploaded; it is being evaluated.").wait_for()

        wait_for(lambda: _finished(cluster, 2), message="the upload's collection")
        wait_for(lambda: len(smtp_inbox.envelopes) >= 2, message="two emails")
        time.sleep(3)  # time enough for a third, if anything would send one

    assert sorted(envelope.rcpt_tos for envelope in smtp_inbox.envelopes) == [
        ["erin@example.com"],
        ["owner@example.com"],
    ]
    for message in smtp_inbox.messages:
        subject = str(make_header(decode_header(message["Subject"])))
        assert subject.startswith("[Rampart] payments: score ")
        assert " new findings (3 critical, " in subject
        body = text_part(message)
        assert "  - Deployment default/system-monitor: container mysql:" in body
        assert f"{SITE}/clusters/payments/checks/supply_chain.miner_images/" in body
        assert "[LOW]" not in body and "[MEDIUM]" not in body
    erin = Notification.objects.get(recipient="erin@example.com")
    assert erin.subscription is not None and erin.subscription.cluster == cluster
    assert (erin.status, erin.attempts) == ("sent", 1)
    assert Notification.objects.count() == 2
    assert page.csp_violations == []
