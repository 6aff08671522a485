"""Attesting a manual control: evidence, who may see it, and the lapse back to manual."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from clusters.models import Cluster
from compliance import services
from compliance.checklist import cluster_state, item_row
from compliance.models import Attestation, AuditEvent
from compliance.tests.factories import item_of
from posture.guides import guides

pytestmark = pytest.mark.django_db


def attest_url(cluster, item_id="5.6.1", guide="cis-kubernetes"):
    return reverse(
        "attestation_create", kwargs={"name": cluster.name, "guide": guide, "item_id": item_id}
    )


def row_for(cluster, item_id="5.6.1", guide="cis-kubernetes", now=None):
    """The item as the checklist page shows it: read back from the stored verdict."""
    found = guides()[guide]
    fresh = Cluster.objects.get(pk=cluster.pk)
    return item_row(found, item_of(found, item_id), cluster_state(fresh, now=now))


def post_attestation(client, cluster, **overrides):
    data = {
        "justification": "Namespaces map one-to-one to teams; reviewed with each owner.",
        "reattest_by": (timezone.localdate() + timedelta(days=90)).isoformat(),
        "evidence_file": SimpleUploadedFile(
            "review.pdf", b"%PDF-1.4 review", content_type="application/pdf"
        ),
        **overrides,
    }
    return client.post(attest_url(cluster), data)


def test_it_lets_an_engineer_attest_a_manual_item_with_a_file(cluster, engineer):
    response = post_attestation(engineer, cluster)
    assert response.status_code == 302
    attestation = Attestation.objects.get()
    assert attestation.attested_by == engineer.user
    assert (attestation.evidence_file.name or "").startswith("attestations/")
    assert row_for(cluster).status == "attested"
    assert AuditEvent.objects.filter(
        action="attestation.create", object_id=str(attestation.pk)
    ).exists()


def test_it_streams_evidence_only_to_people_who_may_view_it(
    cluster, engineer, auditor, outsider, client
):
    post_attestation(engineer, cluster)
    url = reverse("attestation_evidence", kwargs={"pk": Attestation.objects.get().pk})
    response = auditor.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 review"
    assert response["Content-Type"] == "application/octet-stream"
    assert "attachment" in response["Content-Disposition"]
    assert outsider.get(url).status_code == 403
    assert client.get(url).status_code == 302  # anonymous: to the login page


def test_it_requires_evidence(cluster, engineer):
    response = post_attestation(engineer, cluster, evidence_file="")
    assert response.status_code == 302
    assert not Attestation.objects.exists()


def test_it_refuses_to_attest_an_item_checks_judge(cluster, engineer):
    with pytest.raises(services.ComplianceError, match="judged by checks"):
        services.attestation_create(
            cluster=cluster,
            guide="cis-kubernetes",
            item_id="5.1.10",
            by=engineer.user,
            justification="trust me",
            reattest_by=timezone.localdate() + timedelta(days=30),
            evidence_link="https://example.com",
        )


def test_it_refuses_a_reattest_date_beyond_a_year(cluster, engineer):
    with pytest.raises(services.ComplianceError, match="within 366 days"):
        services.attestation_create(
            cluster=cluster,
            guide="cis-kubernetes",
            item_id="5.6.1",
            by=engineer.user,
            justification="ok",
            reattest_by=timezone.localdate() + timedelta(days=400),
            evidence_link="https://example.com",
        )


def test_it_lapses_back_to_manual_after_the_reattest_date(cluster, engineer):
    now = timezone.now()
    services.attestation_create(
        cluster=cluster,
        guide="cis-kubernetes",
        item_id="5.6.1",
        by=engineer.user,
        justification="Reviewed.",
        reattest_by=timezone.localdate(now) + timedelta(days=10),
        evidence_link="https://wiki.example.com/review",
        now=now,
    )
    assert services.verdicts_refresh_due(now=now + timedelta(days=10)) == []
    assert row_for(cluster).status == "attested"
    # The stored verdict names the day it lapses; the minute sweep derives it again then.
    assert services.verdicts_refresh_due(now=now + timedelta(days=11)) == [cluster.pk]
    lapsed = row_for(cluster)
    assert lapsed.status == "manual"
    assert "lapsed" in lapsed.reason


def test_it_revokes_an_attestation(cluster, engineer, second_engineer):
    post_attestation(engineer, cluster)
    attestation = Attestation.objects.get()
    response = second_engineer.post(reverse("attestation_revoke", kwargs={"pk": attestation.pk}))
    assert response.status_code == 302
    attestation.refresh_from_db()
    assert attestation.revoked_by == second_engineer.user
    assert row_for(cluster).status == "manual"
    event = AuditEvent.objects.get(action="attestation.revoke")
    assert event.before and event.before["revoked_at"] is None
    assert event.after and event.after["revoked_by"] == second_engineer.user.pk


def test_it_shows_the_attestation_form_to_engineers_only(cluster, engineer, auditor):
    url = reverse(
        "checklist_item",
        kwargs={"name": cluster.name, "guide": "cis-kubernetes", "item_id": "5.6.1"},
    )
    assert attest_url(cluster) in engineer.get(url).content.decode()
    assert attest_url(cluster) not in auditor.get(url).content.decode()
