"""The checklist page: every status, its reason, drill-down to evidence, constant queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.checklist import cluster_state, item_row
from compliance.tests.factories import evaluated_cluster, item_of
from posture.guides import guides

pytestmark = pytest.mark.django_db


def statuses(response) -> dict[str, str]:
    html = response.content.decode()
    return dict(re.findall(r'id="item-([^"]+)" data-status="([^"]+)"', html))


def attest(cluster, by, item_id="5.6.1", guide="cis-kubernetes", **kwargs):
    return services.attestation_create(
        cluster=cluster,
        guide=guide,
        item_id=item_id,
        by=by,
        justification="Reviewed namespace ownership with each team.",
        reattest_by=kwargs.pop("reattest_by", timezone.localdate() + timedelta(days=90)),
        evidence_link="https://wiki.example.com/review",
        **kwargs,
    )


def waive(cluster, engineer, admin, check_id="access.csr_approval", **kwargs):
    waiver = services.waiver_request(
        cluster=cluster,
        check_id=check_id,
        by=engineer.user,
        owner_email="platform@example.com",
        reason="Replacing the approver bot next sprint.",
        expires_at=timezone.now() + timedelta(days=30),
        **kwargs,
    )
    return services.waiver_approve(waiver=waiver, by=admin.user)


def test_it_renders_every_status(cluster, engineer, admin, auditor):
    attest(cluster, engineer.user)
    waive(cluster, engineer, admin)
    url = reverse("checklist", kwargs={"name": cluster.name, "guide": "cis-kubernetes"})
    response = auditor.get(url)
    assert response.status_code == 200
    found = statuses(response)
    assert found["5.1.9"] == "pass"
    assert found["5.1.10"] == "fail"
    assert found["5.1.11"] == "waived"
    assert found["5.1.12"] == "unknown"
    assert found["5.4.2"] == "manual"
    assert found["5.6.1"] == "attested"
    assert found["5.5.1"] == "not_applicable"  # GKE owns the API server's admission flags
    assert len(found) == len(guides()["cis-kubernetes"].items)
    html = response.content.decode()
    assert "forbidden to the collector&#x27;s credentials" in html
    assert "Provider responsibility (GKE)" in html
    assert (
        reverse("check_detail", kwargs={"name": cluster.name, "check_id": "access.nodes_proxy"})
        in html
    )


def test_it_marks_gke_only_items_not_applicable_on_other_clusters(db, auditor):
    cluster = evaluated_cluster(version="v1.31.4", name="kind-local")
    response = auditor.get(
        reverse("checklist", kwargs={"name": cluster.name, "guide": "gke-hardening"})
    )
    found = statuses(response)
    assert found["D1"] == "not_applicable"  # Shielded GKE nodes: a GKE setting
    assert found["A5"] == "manual"  # an incident-response plan applies everywhere
    assert found["L3"] == "not_applicable"  # PodSecurityPolicy: superseded
    cis_gke = statuses(
        auditor.get(reverse("checklist", kwargs={"name": cluster.name, "guide": "cis-gke"}))
    )
    assert set(cis_gke.values()) == {"not_applicable"}


def test_it_keeps_gke_items_manual_on_a_gke_cluster(cluster, auditor):
    found = statuses(
        auditor.get(reverse("checklist", kwargs={"name": cluster.name, "guide": "gke-hardening"}))
    )
    assert found["D1"] == "manual"
    assert found["L3"] == "not_applicable"
    cis_gke = statuses(
        auditor.get(reverse("checklist", kwargs={"name": cluster.name, "guide": "cis-gke"}))
    )
    assert cis_gke["1"] == "not_applicable"
    assert cis_gke["3.1.1"] == "manual"


def test_it_says_why_before_the_first_collection(db, auditor):
    from clusters.tests.factories import make_cluster

    cluster = make_cluster("fresh")
    response = auditor.get(reverse("checklist", kwargs={"name": cluster.name, "guide": "pss"}))
    assert set(statuses(response).values()) == {"unknown"}
    assert "has not been collected yet" in response.content.decode()


def test_it_drills_into_an_item_with_observed_and_affected(cluster, engineer):
    url = reverse(
        "checklist_item",
        kwargs={"name": cluster.name, "guide": "cis-kubernetes", "item_id": "5.1.10"},
    )
    response = engineer.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 subjects may use nodes/proxy; expected none" in html
    assert "app-00001" in html
    assert (
        reverse("waiver_request", kwargs={"name": cluster.name, "check_id": "access.nodes_proxy"})
        in html
    )


def test_it_lists_every_guide_on_the_index(cluster, auditor):
    response = auditor.get(reverse("guide_index", kwargs={"name": cluster.name}))
    html = response.content.decode()
    for slug in guides():
        assert reverse("checklist", kwargs={"name": cluster.name, "guide": slug}) in html


def test_it_keeps_the_query_count_flat(cluster, auditor, engineer, django_assert_max_num_queries):
    for item_id in ("5.4.2", "5.6.1", "5.6.3"):
        attest(cluster, engineer.user, item_id=item_id)
    url = reverse("checklist", kwargs={"name": cluster.name, "guide": "cis-kubernetes"})
    with django_assert_max_num_queries(12):
        assert auditor.get(url).status_code == 200


def test_it_falls_back_to_manual_when_checks_cannot_judge(db, engineer):
    # L1 (Dashboard) is judged by network checks; none were collected on this cluster.
    cluster = evaluated_cluster()
    guide = guides()["gke-hardening"]
    row = item_row(guide, item_of(guide, "L1"), cluster_state(cluster))
    assert row.status == "unknown"
    row = item_row(guide, item_of(guide, "J1"), cluster_state(cluster))
    assert row.status == "manual"  # a GKE setting: attestable while patching data is missing
    assert "Automated evidence unavailable" in row.reason


def test_it_hides_checklists_from_outsiders(cluster, outsider, client):
    url = reverse("checklist", kwargs={"name": cluster.name, "guide": "pss"})
    assert outsider.get(url).status_code == 403
    assert client.get(url).status_code == 302  # anonymous: to the login page


def test_it_404s_on_an_unknown_guide_or_item(cluster, auditor):
    assert (
        auditor.get(
            reverse("checklist", kwargs={"name": cluster.name, "guide": "nope"})
        ).status_code
        == 404
    )
    url = reverse(
        "checklist_item", kwargs={"name": cluster.name, "guide": "pss", "item_id": "nope"}
    )
    assert auditor.get(url).status_code == 404
