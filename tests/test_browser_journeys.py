"""Issue 13's journeys in a real browser (Debian chromium, strict CSP, violations asserted empty):
an admin creates a user and changes a role, the user changes their own password, an auditor
reads a checklist and downloads a report a worker built, every page leads on with navigation
and breadcrumbs, refusals are styled."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.roles import ADMIN, AUDITOR, SECURITY_ENGINEER, user_role
from accounts.services import user_create
from clusters.tests.factories import make_cluster, make_evaluation
from compliance.models import AuditEvent, Report
from tests.test_browser import http_cookies, log_in, page  # noqa: F401  (fixtures)
from tests.workers import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"
FIRST_PASSWORD = "noor-first-password-2026"
NEW_PASSWORD = "noor-chose-this-one-herself"


def _log_out(browser_page):
    browser_page.get_by_role("button", name="Log out").click()
    browser_page.get_by_role("heading", name="Log in to Rampart").wait_for()


def test_an_admin_creates_a_user_who_changes_their_password(live_server, page, http_cookies):  # noqa: F811
    user_create(username="ada", email="ada@example.com", role=ADMIN, password=PASSWORD)
    log_in(page, live_server.url, "ada", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    assert page.locator("nav.breadcrumbs").inner_text().startswith("Fleet")
    page.get_by_role("link", name="Add a user").click()
    page.get_by_label("Username").fill("noor")
    page.get_by_label("Email").fill("noor@example.com")
    page.get_by_label("Role").select_option(AUDITOR)
    page.get_by_label("Password:", exact=True).fill(FIRST_PASSWORD)
    page.get_by_label("Password confirmation").fill(FIRST_PASSWORD)
    page.get_by_role("button", name="Create the user").click()
    page.get_by_text("noor can sign in as Auditor").wait_for()
    assert "Auditor" in page.locator("table.users").inner_text()

    page.locator("table.users").get_by_role("link", name="noor").click()
    page.get_by_role("heading", name="noor").wait_for()
    page.locator("select[name=role]").select_option(SECURITY_ENGINEER)
    page.get_by_role("button", name="Change the role").click()
    page.get_by_text("noor is now Security engineer.").wait_for()
    noor = get_user_model().objects.get(username="noor")
    assert user_role(noor) == SECURITY_ENGINEER
    assert list(
        AuditEvent.objects.filter(object_id=str(noor.pk))
        .order_by("at", "id")
        .values_list("action", flat=True)
    ) == ["user.create", "user.role_change"]
    _log_out(page)

    log_in(page, live_server.url, "noor", FIRST_PASSWORD)
    assert "Security engineer" in page.locator(".nav-user").inner_text()
    page.locator(".nav-user").get_by_role("link", name="noor").click()
    page.get_by_role("heading", name="Change your password").wait_for()
    page.get_by_label("Old password").fill(FIRST_PASSWORD)
    page.get_by_label("New password:", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change my password").click()
    page.get_by_role("heading", name="Password changed").wait_for()
    _log_out(page)
    log_in(page, live_server.url, "noor", NEW_PASSWORD)
    assert page.csp_violations == []


def test_an_auditor_reads_a_checklist_and_meets_styled_refusals(
    live_server,
    page,  # noqa: F811
    http_cookies,  # noqa: F811
):
    user_create(username="aude", email="aude@example.com", role=AUDITOR, password=PASSWORD)
    make_evaluation(make_cluster("prod-eu"), score_value=64.0, coverage=80.0)
    log_in(page, live_server.url, "aude", PASSWORD)

    page.locator("table.fleet").get_by_role("link", name="prod-eu").click()
    page.get_by_role("heading", name="prod-eu", exact=True).wait_for()
    cluster_nav = page.get_by_role("navigation", name="This cluster")
    for link in ("Trends", "Compare collections", "Hardening checklists", "Waivers"):
        assert cluster_nav.get_by_role("link", name=link).is_visible()
    cluster_nav.get_by_role("link", name="Hardening checklists").click()
    page.get_by_role("link", name="CIS Kubernetes Benchmark").first.click()
    page.locator("table").first.wait_for()
    crumbs = page.locator("nav.breadcrumbs").inner_text()
    assert crumbs.startswith("Fleet") and "prod-eu" in crumbs and "Guides" in crumbs
    assert page.locator("table tbody tr").count() > 10

    page.goto(f"{live_server.url}/users/")
    page.get_by_role("heading", name="You may not open this page").wait_for()
    assert "Your role (Auditor) does not allow this." in page.inner_text("main")
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.locator("link[rel=stylesheet]").count() == 1
    page.goto(f"{live_server.url}/clusters/nowhere/")
    page.get_by_role("heading", name="Nothing here").wait_for()
    page.get_by_role("link", name="The fleet").click()
    page.get_by_role("heading", name="Fleet").wait_for()
    assert page.csp_violations == []


@pytest.mark.worker
def test_an_auditor_builds_a_report_and_downloads_it(
    live_server,
    page,  # noqa: F811
    http_cookies,  # noqa: F811
    tmp_path,
):
    """The page enqueues the build on the broker, a real worker process builds the PDF, the
    list polls itself to the download link, and the file is the one Rampart says it issued."""
    user_create(username="aude", email="aude@example.com", role=AUDITOR, password=PASSWORD)
    make_evaluation(make_cluster("prod-eu"), score_value=64.0, coverage=80.0)

    with celery_worker(name="reports"):
        log_in(page, live_server.url, "aude")
        page.goto(f"{live_server.url}/clusters/prod-eu/")
        assert page.get_by_role("button", name="Collect now").count() == 0  # reads, changes nothing
        page.get_by_role("navigation", name="This cluster").get_by_role(
            "link", name="Reports"
        ).click()
        page.get_by_role("heading", name="Compliance reports").wait_for()
        assert page.get_by_label("Format").input_value() == "pdf"
        page.get_by_role("button", name="Generate report").click()
        page.get_by_text("is being built.").wait_for()
        done = page.locator("#report-list tr[data-status='done']")
        done.wait_for(timeout=90_000)
        with page.expect_download() as download_info:
            done.get_by_role("link", name="Download").click()
        issued = tmp_path / download_info.value.suggested_filename
        download_info.value.save_as(issued)

    report = Report.objects.get()
    assert report.generated_by is not None and report.generated_by.username == "aude"
    assert issued.suffix == ".pdf"
    said = StringIO()
    call_command("compliance_report", "--verify", str(issued), stdout=said)
    assert f"#{report.pk}" in said.getvalue() and "prod-eu" in said.getvalue()
    assert AuditEvent.objects.filter(action="report.download", object_id=str(report.pk)).exists()
    assert page.csp_violations == []
