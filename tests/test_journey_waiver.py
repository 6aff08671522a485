"""Journey: register → collect → find the owner of a finding → waive it from the cluster page →
a second engineer approves → the waived object is marked (issue 13, "Done when").

Everything real but the broker: Erin registers a bundle cluster in Debian chromium under the
strict CSP, its collection runs synchronously in the live server (the enqueue is replaced by
the task's own service), she ticks the failing Deployment on the cluster page and requests a
waiver; Eric, a second engineer given the approve-waivers right, approves it; both the cluster
and the check page then mark that object as waived, read from the stored verdict.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.roles import SECURITY_ENGINEER
from accounts.services import user_create
from clusters import services
from clusters.tests.hostile_archives import tar_gz
from compliance.models import Waiver
from tests.test_browser import PASSWORD, http_cookies, log_in, page
from tests.workers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DEMO = ROOT / "demo" / "bundles"
CHECK = "supply_chain.miner_images"
OBJECT = "Deployment/default/system-monitor"
__all__ = ["http_cookies", "page"]  # fixtures this journey shares


@pytest.fixture
def collect_now(monkeypatch):
    """The collect task's service, run as the request commits instead of on a worker."""
    from pipeline.collection import collection_execute

    monkeypatch.setattr(
        services, "collection_enqueue", lambda *, run_id: collection_execute(run_id=run_id)
    )


def test_a_finding_is_waived_from_the_cluster_page_and_marked_once_approved(
    live_server, page, http_cookies, collect_now, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    archive = tmp_path / "storefront.tar.gz"
    tar_gz(DEMO / "storefront-staging", archive)
    user_create(
        username="erin", email="erin@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    eric, _ = user_create(
        username="eric", email="eric@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    eric.user_permissions.add(Permission.objects.get(codename="approve_waiver"))
    base = live_server.url

    # Register and collect.
    log_in(page, base, "erin")
    page.goto(f"{base}/clusters/new/")
    page.locator("#id_name").fill("storefront")
    page.locator("#id_owners").fill("shop-team@example.com")
    page.locator("input[name=source_kind][value=bundle]").check()
    page.locator("input[type=file][name=bundle]").set_input_files(str(archive))
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="storefront", exact=True).wait_for()
    page.reload()

    # The finding names its owning workload, not a pod.
    check = page.locator(f"[id='check-{CHECK}']")
    check.wait_for()
    assert "system-monitor" in check.inner_text()
    assert "Deployment" in check.inner_text()

    # Tick it and request a waiver from the cluster page.
    check.get_by_label(f"Waive {OBJECT}").check()
    check.get_by_role("button", name="Request a waiver for the ticked objects").click()
    page.get_by_role("heading", name="Who approves it").wait_for()
    approval = page.locator(".approval-note").inner_text()
    assert "eric@example.com" in approval and "erin@example.com" not in approval
    assert page.get_by_label("Deployment default/system-monitor", exact=False).is_checked()
    page.get_by_label("Reason").fill("The miner is a load-test fixture removed on Friday.")
    expires = timezone.localdate() + timedelta(days=14)
    page.get_by_label("Expires on").fill(expires.isoformat())
    page.get_by_role("button", name="Request waiver").click()
    page.get_by_text("requested. It applies once someone other than you approves it").wait_for()
    assert "eric@example.com" in page.locator(".messages, [role=status], body").first.inner_text()
    waiver = Waiver.objects.get()
    assert waiver.workloads == [OBJECT] and waiver.requested_by_id is not None
    row = page.locator(f"#waiver-{waiver.pk}")
    assert "Awaiting approval by eric" in row.inner_text()
    assert row.get_by_role("button", name="Approve").count() == 0  # not her own

    # A second engineer approves.
    log_in(page, base, "eric")
    page.goto(f"{base}/clusters/storefront/waivers/")
    page.locator(f"#waiver-{waiver.pk}").get_by_role("button", name="Approve").click()
    page.get_by_text("approved; the stored verdict was derived again").wait_for()

    # The waived object is marked on the cluster page and the check page.
    page.goto(f"{base}/clusters/storefront/")
    marked = page.locator(f"[id='check-{CHECK}'] tr.object-waived")
    assert marked.count() == 1
    # Inside the closed "affected objects" details once the check no longer fails.
    text = marked.text_content() or ""
    assert "system-monitor" in text and "Waived" in text
    assert f"waiver #{waiver.pk}" in page.locator(f"[id='check-{CHECK}']").inner_text()
    page.goto(f"{base}/clusters/storefront/checks/{CHECK}/")
    marked = page.locator("tr.object-waived")
    assert marked.count() == 1 and "system-monitor" in marked.inner_text()
    assert page.csp_violations == []
