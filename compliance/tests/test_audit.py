"""The audit log: one event per change, append-only, readable by auditors and admins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def every_change(cluster, engineer, admin):
    attestation = services.attestation_create(
        cluster=cluster,
        guide="cis-kubernetes",
        item_id="5.6.1",
        by=engineer.user,
        justification="Reviewed.",
        reattest_by=timezone.localdate() + timedelta(days=30),
        evidence_link="https://wiki.example.com/review",
    )
    services.attestation_revoke(attestation=attestation, by=admin.user)
    waiver = services.waiver_request(
        cluster=cluster,
        check_id="access.csr_approval",
        by=engineer.user,
        owner_email="platform@example.com",
        reason="Bot replaced next sprint.",
        expires_at=timezone.now() + timedelta(days=7),
    )
    services.waiver_approve(waiver=waiver, by=admin.user)
    services.waiver_revoke(waiver=waiver, by=engineer.user)
    return attestation, waiver


def test_it_records_each_create_approve_and_revoke(cluster, engineer, admin):
    attestation, waiver = every_change(cluster, engineer, admin)
    events = list(
        AuditEvent.objects.order_by("at", "id").values_list("action", "actor_name", "object_id")
    )
    assert events == [
        ("attestation.create", "erin", str(attestation.pk)),
        ("attestation.revoke", "ada", str(attestation.pk)),
        ("waiver.request", "erin", str(waiver.pk)),
        ("waiver.approve", "ada", str(waiver.pk)),
        ("waiver.revoke", "erin", str(waiver.pk)),
    ]
    approve = AuditEvent.objects.get(action="waiver.approve")
    assert approve.before and approve.before["approved_by"] is None
    assert approve.after and approve.after["approved_by"] == admin.user.pk
    assert approve.cluster_name == cluster.name


def test_it_refuses_to_edit_or_delete_an_event(cluster, engineer, admin):
    every_change(cluster, engineer, admin)
    event = AuditEvent.objects.get(action="waiver.approve")
    event.action = "nothing.happened"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(action="nothing.happened")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 5


def test_it_keeps_the_log_when_the_cluster_is_deleted(cluster, engineer, admin):
    every_change(cluster, engineer, admin)
    cluster.delete()
    assert AuditEvent.objects.filter(cluster_name="prod-eu").count() == 5


def test_it_offers_no_way_to_change_events_in_the_admin(admin):
    model_admin = site._registry[AuditEvent]
    request = RequestFactory().get("/")
    request.user = admin.user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_it_shows_the_log_to_auditors_and_admins_only(cluster, engineer, admin, auditor, outsider):
    every_change(cluster, engineer, admin)
    response = auditor.get(reverse("audit_log"))
    assert response.status_code == 200
    assert "waiver.approve" in response.content.decode()
    assert admin.get(reverse("audit_log")).status_code == 200
    assert engineer.get(reverse("audit_log")).status_code == 403
    assert outsider.get(reverse("audit_log")).status_code == 403
    filtered = auditor.get(reverse("audit_log"), {"action": "waiver.revoke"}).content.decode()
    assert "waiver.revoke" in filtered
    assert "attestation.create</code>" not in filtered
