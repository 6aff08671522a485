"""Refusals and missing pages are styled pages with the reason and a way on; a denial logs one
warning line, never a traceback."""

import logging

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults

from clusters.tests.factories import make_cluster

pytestmark = pytest.mark.django_db


def test_a_refusal_is_a_styled_page_with_the_reason_and_navigation(outsider):
    make_cluster("prod-eu")

    response = outsider.get(reverse("cluster_detail", args=["prod-eu"]))

    assert response.status_code == 403
    body = response.content.decode()
    assert "You may not open this page" in body
    assert "Your role (none yet) does not allow this." in body
    assert 'class="site-nav"' in body and 'class="breadcrumbs"' in body
    assert reverse("fleet") in body
    assert "rampart.css" in body


def test_a_refusal_shows_the_reason_the_view_gave(admin):
    from datetime import timedelta

    from django.utils import timezone

    from compliance.models import Waiver

    waiver = Waiver.objects.create(
        cluster=make_cluster("prod-eu"),
        check_id="access.cluster_admin",
        owner_email="ada@example.com",
        reason="vendor operator",
        expires_at=timezone.now() + timedelta(days=30),
        requested_by=admin.user,
    )

    response = admin.post(reverse("waiver_approve", args=[waiver.pk]))

    assert response.status_code == 403
    assert "someone other than its requester" in response.content.decode()


def test_a_refusal_logs_one_warning_line_without_a_traceback(outsider, caplog):
    make_cluster("prod-eu")

    with caplog.at_level(logging.INFO, logger="django.request"):
        outsider.get(reverse("cluster_detail", args=["prod-eu"]))

    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Forbidden (Permission denied): /clusters/prod-eu/"
    assert record.exc_info is None and not record.exc_text
    assert "Traceback" not in caplog.text


def test_a_missing_page_is_styled_with_the_address(auditor):
    response = auditor.get("/clusters/no-such-cluster/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "Nothing here" in body
    assert "No Cluster matches the given query." in body
    assert "/clusters/no-such-cluster/" in body
    assert 'class="site-nav"' in body and 'class="breadcrumbs"' in body


def test_a_missing_page_says_so_to_someone_signed_out(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()
    assert "There is no page at this address." in response.content.decode()
    assert "Resolver404" not in response.content.decode()
    assert reverse("login") in response.content.decode()


def test_a_server_error_page_renders_without_a_request_context():
    response = defaults.server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "rampart.css" in body
    assert reverse("fleet") in body
