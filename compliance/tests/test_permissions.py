"""Auditors read and never change: every write answers 403 and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.models import Attestation, AuditEvent, Waiver

pytestmark = pytest.mark.django_db


def test_it_answers_403_to_every_post_by_an_auditor(cluster, engineer, admin, auditor):
    attestation = services.attestation_create(
        cluster=cluster,
        guide="cis-kubernetes",
        item_id="5.6.1",
        by=engineer.user,
        justification="Reviewed.",
        reattest_by=timezone.localdate() + timedelta(days=30),
        evidence_link="https://wiki.example.com/review",
    )
    waiver = services.waiver_request(
        cluster=cluster,
        check_id="access.csr_approval",
        by=engineer.user,
        owner_email="platform@example.com",
        reason="Bot replaced next sprint.",
        expires_at=timezone.now() + timedelta(days=7),
    )
    events = AuditEvent.objects.count()
    posts = [
        reverse(
            "attestation_create",
            kwargs={"name": cluster.name, "guide": "cis-kubernetes", "item_id": "5.4.2"},
        ),
        reverse("attestation_revoke", kwargs={"pk": attestation.pk}),
        reverse("waiver_request", kwargs={"name": cluster.name, "check_id": "access.nodes_proxy"}),
        reverse("waiver_approve", kwargs={"pk": waiver.pk}),
        reverse("waiver_revoke", kwargs={"pk": waiver.pk}),
    ]
    for url in posts:
        assert auditor.post(url, {"reason": "x", "justification": "x"}).status_code == 403, url
    assert AuditEvent.objects.count() == events
    assert Attestation.objects.filter(revoked_at__isnull=True).count() == 1
    assert Waiver.objects.get().approved_at is None


def test_it_lets_auditors_read_every_page(cluster, auditor):
    for url in (
        reverse("guide_index", kwargs={"name": cluster.name}),
        reverse("checklist", kwargs={"name": cluster.name, "guide": "gke-hardening"}),
        reverse(
            "checklist_item", kwargs={"name": cluster.name, "guide": "pss", "item_id": "privileged"}
        ),
        reverse("waiver_list", kwargs={"name": cluster.name}),
        reverse("catalog"),
        reverse("audit_log"),
    ):
        assert auditor.get(url).status_code == 200, url


def test_it_refuses_get_on_write_endpoints(cluster, engineer):
    url = reverse(
        "attestation_create", kwargs={"name": cluster.name, "guide": "pss", "item_id": "privileged"}
    )
    assert engineer.get(url).status_code == 405
