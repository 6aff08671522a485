"""The dashboard in a real browser: Debian chromium driven by Playwright against live_server."""

from pathlib import Path

import pytest

from accounts.roles import AUDITOR, SECURITY_ENGINEER
from accounts.services import user_create
from clusters import services
from clusters.models import CollectionRun
from clusters.tests.factories import make_cluster, make_evaluation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and page.csp_violations.append(message.text)
            ),
        )
        try:
            yield page
        finally:
            context.close()
            browser.close()


def log_in(browser_page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form as `username`, leaving any earlier session behind."""
    browser_page.context.clear_cookies()
    browser_page.goto(f"{base_url}/login/")
    browser_page.get_by_label("Username").fill(username)
    browser_page.get_by_label("Password").fill(password)
    browser_page.get_by_role("button", name="Log in").click()
    browser_page.get_by_role("heading", name="Fleet", exact=True).wait_for()


@pytest.fixture
def http_cookies(settings):
    # live_server speaks plain http; Secure cookies would never be sent back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def queued(monkeypatch):
    """Collections are requested but never reach a worker, so the run stays pending."""
    run_ids: list[int] = []
    monkeypatch.setattr(services, "collection_enqueue", lambda *, run_id: run_ids.append(run_id))
    return run_ids


def test_it_logs_in_opens_a_cluster_and_starts_a_collection(
    live_server, page, http_cookies, queued
):
    user_create(
        username="erin", email="erin@example.com", role=SECURITY_ENGINEER, password=PASSWORD
    )
    cluster = make_cluster("prod-eu", environment="production")
    make_evaluation(cluster, score_value=81.5, coverage=90.0)
    make_cluster("staging-us", environment="staging")

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("heading", name="Fleet").wait_for()
    fleet = page.locator("table.fleet")
    assert fleet.get_by_role("link", name="prod-eu").is_visible()
    assert fleet.get_by_role("link", name="staging-us").is_visible()
    assert "81.5" in fleet.inner_text()
    assert "Security engineer" in page.locator(".nav-user").inner_text()

    fleet.get_by_role("link", name="prod-eu").click()
    page.get_by_role("heading", name="prod-eu", exact=True).wait_for()
    page.get_by_role("button", name="Collect now").click()

    page.get_by_text("Collection requested").wait_for()
    history = page.locator("#collection-history")
    first_row = history.locator("tbody tr").first
    assert first_row.get_attribute("data-run-status") == "pending"
    assert "Pending" in first_row.inner_text()
    run = CollectionRun.objects.get(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)
    assert queued == [run.pk]

    # The page polls the server-rendered history while the run is active.
    CollectionRun.objects.filter(pk=run.pk).update(
        status=CollectionRun.Status.RUNNING, progress="listing pods"
    )
    page.locator("#collection-history tbody tr[data-run-status='running']").wait_for()
    assert "listing pods" in page.locator("#collection-history").inner_text()

    CollectionRun.objects.filter(pk=run.pk).update(status=CollectionRun.Status.FAILED)
    page.get_by_text("The collection has finished").wait_for()
    assert page.locator("[data-poll-url]").count() == 0
    assert page.csp_violations == []


def test_the_demo_fleets_history_renders_as_charts_without_script(live_server, page, http_cookies):
    from io import StringIO

    from django.core.management import call_command

    from pipeline.collection import collection_execute

    call_command("load_demo", "--history-days", "21", stdout=StringIO())
    for run in CollectionRun.objects.filter(status=CollectionRun.Status.PENDING):
        collection_execute(run_id=run.pk)
    user_create(username="aude", email="aude@example.com", role=AUDITOR, password=PASSWORD)
    log_in(page, live_server.url, "aude")

    page.goto(f"{live_server.url}/clusters/payments-prod/trends/?range=30d")
    charts = page.locator("svg.chart")
    assert charts.count() >= 4
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    score_chart = page.locator("svg.chart").first
    assert score_chart.locator("title", has_text="Waiver approved").count() >= 1
    assert "No history yet" not in page.content()

    page.goto(f"{live_server.url}/trends/?range=30d")
    assert page.locator("svg.chart").count() >= 4
    page.goto(f"{live_server.url}/drift/")
    matrix = page.locator("table").first
    assert "payments-prod" in matrix.inner_text() and "storefront-staging" in matrix.inner_text()
    page.goto(f"{live_server.url}/clusters/payments-prod/compare/")
    page.get_by_role("heading", name="Compare", exact=False).first.wait_for()
    assert page.csp_violations == []
