"""Waivers asked for where the failure is seen: the cluster and check pages offer the stored
affected objects to tick, the form names who may approve, and once approved both pages mark
the waived objects from the stored verdict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from compliance.models import Waiver

pytestmark = pytest.mark.django_db
CHECK = "access.csr_approval"


def request_url(cluster, **query):
    url = reverse("waiver_request", kwargs={"name": cluster.name, "check_id": CHECK})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def terms():
    return {
        "reason": "The approver bot is replaced next sprint.",
        "owner_email": "platform@example.com",
        "expires_on": (timezone.localdate() + timedelta(days=14)).isoformat(),
    }


def test_it_offers_the_stored_affected_objects_on_the_cluster_and_check_pages(cluster, engineer):
    for page in (
        cluster.get_absolute_url(),
        reverse("check_detail", kwargs={"name": cluster.name, "check_id": CHECK}),
    ):
        html = engineer.get(page).content.decode()
        assert f'action="{request_url(cluster)}"' in html
        assert 'name="object" value="RoleBinding/ops/approver"' in html
        assert 'name="object" value="RoleBinding/ci/bot"' in html
        assert f"{request_url(cluster)}?whole=1" in html


def test_it_offers_nothing_to_an_auditor(cluster, auditor):
    html = auditor.get(cluster.get_absolute_url()).content.decode()
    assert request_url(cluster) not in html
    assert 'name="object"' not in html


def test_the_form_ticks_what_the_page_ticked_and_names_the_approvers(cluster, engineer, admin):
    html = engineer.get(request_url(cluster, object="RoleBinding/ci/bot")).content.decode()
    assert 'value="RoleBinding/ci/bot" checked' in html or (
        "checked" in html.split('value="RoleBinding/ci/bot"')[1].split(">")[0]
    )
    assert "RoleBinding ops/approver" in html
    assert "Admin role" in html
    assert admin.user.email in html
    assert engineer.user.email not in html.split("Who may approve")[1].split("</p>")[0]


def test_it_requests_the_ticked_object_and_says_who_approves(cluster, engineer, admin):
    response = engineer.post(request_url(cluster), {**terms(), "objects": ["RoleBinding/ci/bot"]})
    waiver = Waiver.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"#waiver-{waiver.pk}")
    assert waiver.workloads == ["RoleBinding/ci/bot"] and waiver.namespaces == []
    html = engineer.get(response["Location"]).content.decode()
    assert f"Waiver #{waiver.pk} requested" in html
    assert "someone other than you" in html and admin.user.email in html
    assert "Awaiting approval by ada" in html


def test_it_refuses_no_scope_and_both_scopes(cluster, engineer):
    html = engineer.post(request_url(cluster), terms()).content.decode()
    assert "Choose the affected objects to waive, or the whole check." in html
    both = {**terms(), "whole": "on", "objects": ["RoleBinding/ci/bot"]}
    assert "not both" in engineer.post(request_url(cluster), both).content.decode()
    bogus = {**terms(), "objects": ["Pod/kube-system/not-affected"]}
    assert (
        "not one of the available choices"
        in engineer.post(request_url(cluster), bogus).content.decode()
    )
    assert not Waiver.objects.exists()


def test_it_marks_the_waived_object_on_the_cluster_and_check_pages_once_approved(
    cluster, engineer, second_engineer
):
    approve = Permission.objects.get(codename="approve_waiver")
    second_engineer.user.user_permissions.add(approve)
    engineer.post(request_url(cluster), {**terms(), "objects": ["RoleBinding/ci/bot"]})
    waiver = Waiver.objects.get()
    check_page = reverse("check_detail", kwargs={"name": cluster.name, "check_id": CHECK})
    assert "object-waived" not in engineer.get(check_page).content.decode()
    response = second_engineer.post(reverse("waiver_approve", kwargs={"pk": waiver.pk}))
    assert response.status_code == 302
    for page in (cluster.get_absolute_url(), check_page):
        html = engineer.get(page).content.decode()
        assert html.count('class="object-waived"') == 1
        row = html.split('class="object-waived"')[1].split("</tr>")[0]
        assert "bot" in row and "Waived" in row
        assert f"waiver #{waiver.pk}" in html
        assert "1 of 2 objects waived; the rest still fail." in html
        # The waived object is no longer offered; the other still is.
        assert 'value="RoleBinding/ci/bot"' not in html
        assert 'value="RoleBinding/ops/approver"' in html
