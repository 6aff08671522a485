"""Journey: a bundle upload shows its progress (issue 13, "Long work shows progress").

In Debian chromium under the strict CSP, with the browser's upload throttled so the transfer
takes seconds, the cluster page reports how much of the bundle has gone, then that Rampart is
checking it, then follows the server's redirect to the page where the collection's own progress
shows. The collection is requested but never reaches a worker (the `queued` fixture).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accounts.roles import SECURITY_ENGINEER
from accounts.services import user_create
from clusters.models import Cluster, CollectionRun
from clusters.tests.factories import make_cluster
from clusters.tests.hostile_archives import tar_gz
from tests.test_browser import PASSWORD, http_cookies, log_in, page, queued
from tests.workers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["http_cookies", "page", "queued"]  # fixtures this journey shares
DEMO = ROOT / "demo" / "bundles" / "storefront-staging"
UPLOAD_BYTES_PER_SECOND = 48_000
PART_SENT = re.compile(r"Uploading: [\d.]+ MB of [\d.]+ MB \((\d+) %\)")


def test_a_bundle_upload_shows_how_far_it_has_gone(
    live_server,
    page,
    http_cookies,
    queued,
    tmp_path: Path,
) -> None:
    archive = tmp_path / "storefront-staging.tar.gz"
    tar_gz(DEMO, archive, compresslevel=0)  # stored, not compressed: large enough to watch
    assert archive.stat().st_size > 4 * UPLOAD_BYTES_PER_SECOND
    user_create(
        username="erin", email="erin@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    cluster = make_cluster("storefront", source_kind=Cluster.SourceKind.BUNDLE)

    log_in(page, live_server.url, "erin")
    page.goto(f"{live_server.url}/clusters/storefront/")
    progress = page.locator("#upload-heading + p + form .upload-progress")
    assert progress.is_hidden()

    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
        },
    )
    uploads: list[str] = []
    page.on(
        "request",
        lambda request: uploads.append(request.resource_type) if request.method == "POST" else None,
    )
    page.get_by_label("Evidence bundle").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and evaluate").click()

    status = progress.get_by_role("status")
    status.filter(has_text=PART_SENT).wait_for()
    seen = {int(match) for match in PART_SENT.findall(status.inner_text())}
    assert page.get_by_role("button", name="Upload and evaluate").is_disabled()
    page.get_by_text("Bundle uploaded; it is being evaluated.").wait_for(timeout=30_000)

    assert uploads == ["xhr"]  # sent by the page's script, so its progress could show
    assert seen and all(0 <= share < 100 for share in seen)
    assert page.url == f"{live_server.url}/clusters/storefront/"
    run = CollectionRun.objects.get(cluster=cluster, trigger=CollectionRun.Trigger.UPLOAD)
    assert queued == [run.pk]
    assert page.locator("#collection-history tbody tr").first.get_attribute("data-run-status") == (
        "pending"
    )
    assert page.csp_violations == []
