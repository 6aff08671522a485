"""Governed waivers: requested, approved by someone else, scoped, expiring, revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.models import AuditEvent, Waiver
from posture.checks.base import REGISTRY
from posture.scoring import WEIGHTS
from posture.verdicts import check_views

pytestmark = pytest.mark.django_db
CHECK = "access.csr_approval"


def request_waiver(cluster, by, *, check_id=CHECK, days=30, now=None, **scope):
    return services.waiver_request(
        cluster=cluster,
        check_id=check_id,
        by=by,
        owner_email="platform@example.com",
        reason="The approver bot is replaced next sprint.",
        expires_at=(now or timezone.now()) + timedelta(days=days),
        now=now,
        **scope,
    )


def effective(cluster, check_id=CHECK):
    """The check's stored verdict on the cluster's latest evaluation, as every page reads it."""
    cluster.refresh_from_db()
    return check_views(cluster.latest_evaluation, check_ids=[check_id])[0]


def stored_score(cluster):
    cluster.latest_evaluation.refresh_from_db()
    return cluster.latest_evaluation


def test_it_does_not_apply_a_pending_waiver(cluster, engineer):
    before = stored_score(cluster).score
    request_waiver(cluster, engineer.user)
    assert effective(cluster).status == "fail"
    assert stored_score(cluster).score == before


def test_it_applies_an_approved_waiver_and_rescoring_shows_the_waived_weight(
    cluster, engineer, admin
):
    before = stored_score(cluster)
    before_score, before_access = before.score, before.area_scores["access"]
    waiver = request_waiver(cluster, engineer.user)
    response = admin.post(reverse("waiver_approve", kwargs={"pk": waiver.pk}))
    assert response.status_code == 302
    waiver.refresh_from_db()
    assert waiver.state(now=timezone.now()) == "active"
    assert effective(cluster).status == "waived"
    after = stored_score(cluster)
    assert after.score > before_score
    weight = WEIGHTS[REGISTRY[CHECK].severity]
    assert before_access["waived"] == 0
    assert after.area_scores["access"]["waived"] == weight
    assert after.status_counts["waived"] == 1


def test_it_forbids_the_requester_to_approve(cluster, admin):
    waiver = request_waiver(cluster, admin.user)
    assert admin.post(reverse("waiver_approve", kwargs={"pk": waiver.pk})).status_code == 403
    with pytest.raises(services.ComplianceError, match="someone other"):
        services.waiver_approve(waiver=waiver, by=admin.user)
    waiver.refresh_from_db()
    assert waiver.approved_at is None


def test_it_enforces_four_eyes_in_the_database_too(cluster, engineer):
    waiver = request_waiver(cluster, engineer.user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Waiver.objects.filter(pk=waiver.pk).update(
            approved_by=engineer.user, approved_at=timezone.now()
        )


def test_it_lets_only_approvers_approve(cluster, engineer, second_engineer):
    waiver = request_waiver(cluster, engineer.user)
    assert (
        second_engineer.post(reverse("waiver_approve", kwargs={"pk": waiver.pk})).status_code == 403
    )


def test_it_stops_applying_when_the_waiver_expires(cluster, engineer, admin):
    now = timezone.now()
    waiver = request_waiver(cluster, engineer.user, days=2, now=now)
    services.waiver_approve(waiver=waiver, by=admin.user, now=now)
    waived_score = stored_score(cluster).score
    later = now + timedelta(days=2, seconds=1)
    assert services.verdicts_refresh_due(now=now + timedelta(days=1)) == []
    assert effective(cluster).status == "waived"
    assert stored_score(cluster).verdicts_valid_until == waiver.expires_at
    waiver.refresh_from_db()
    assert waiver.state(now=later) == "expired"
    assert services.waivers_expire(now=later) == [cluster.pk]
    assert effective(cluster).status == "fail"
    assert stored_score(cluster).score < waived_score
    assert AuditEvent.objects.filter(action="waiver.expire", actor__isnull=True).count() == 1
    assert services.waivers_expire(now=later) == []  # idempotent


def test_it_runs_the_expiry_task(cluster, engineer, admin):
    from compliance.tasks import refresh_verdicts

    waiver = request_waiver(cluster, engineer.user)
    services.waiver_approve(waiver=waiver, by=admin.user)
    Waiver.objects.filter(pk=waiver.pk).update(
        requested_at=timezone.now() - timedelta(days=3),
        expires_at=timezone.now() - timedelta(days=1),
    )
    assert refresh_verdicts() == 1
    assert effective(cluster).status == "fail"


def test_it_revokes_a_waiver_and_rescores(cluster, engineer, admin, second_engineer):
    waiver = request_waiver(cluster, engineer.user)
    services.waiver_approve(waiver=waiver, by=admin.user)
    waived_score = stored_score(cluster).score
    response = second_engineer.post(reverse("waiver_revoke", kwargs={"pk": waiver.pk}))
    assert response.status_code == 302
    waiver.refresh_from_db()
    assert waiver.state(now=timezone.now()) == "revoked"
    assert effective(cluster).status == "fail"
    assert stored_score(cluster).score < waived_score


def test_it_waives_a_scoped_check_only_when_every_object_is_in_scope(cluster, engineer, admin):
    partial = request_waiver(cluster, engineer.user, namespaces=["ops"])
    services.waiver_approve(waiver=partial, by=admin.user)
    result = effective(cluster)
    assert result.status == "fail"
    assert result.partially_waived
    assert [obj["waived"] for obj in result.affected] == [True, False]
    rest = request_waiver(cluster, engineer.user, workloads=["RoleBinding/ci/bot"])
    services.waiver_approve(waiver=rest, by=admin.user)
    assert effective(cluster).status == "waived"


def test_it_never_turns_unknown_into_waived(cluster, engineer, admin):
    waiver = request_waiver(cluster, engineer.user, check_id="access.webhook_writers")
    services.waiver_approve(waiver=waiver, by=admin.user)
    assert effective(cluster, check_id="access.webhook_writers").status == "unknown"


def test_it_caps_the_expiry(cluster, engineer, settings):
    settings.RAMPART_WAIVER_MAX_DAYS = 30
    with pytest.raises(services.ComplianceError, match="within 30 days"):
        request_waiver(cluster, engineer.user, days=31)


def test_it_requests_through_the_form(cluster, engineer):
    url = reverse("waiver_request", kwargs={"name": cluster.name, "check_id": CHECK})
    assert engineer.get(url).status_code == 200
    response = engineer.post(
        url,
        {
            "reason": "Compensated by an admission policy.",
            "owner_email": "platform@example.com",
            "expires_on": (timezone.localdate() + timedelta(days=14)).isoformat(),
            "namespaces": ["ops"],
            "objects": ["RoleBinding/ci/bot"],
        },
    )
    assert response.status_code == 302
    waiver = Waiver.objects.get()
    assert waiver.requested_by == engineer.user
    assert waiver.namespaces == ["ops"]
    assert waiver.workloads == ["RoleBinding/ci/bot"]
    assert waiver.state(now=timezone.now()) == "pending"


def test_it_lists_waivers_with_their_state(cluster, engineer, admin, auditor):
    waiver = request_waiver(cluster, engineer.user)
    html = admin.get(reverse("waiver_list", kwargs={"name": cluster.name})).content.decode()
    assert f'id="waiver-{waiver.pk}" data-state="pending"' in html
    assert reverse("waiver_approve", kwargs={"pk": waiver.pk}) in html
    html = auditor.get(reverse("waiver_list", kwargs={"name": cluster.name})).content.decode()
    assert reverse("waiver_approve", kwargs={"pk": waiver.pk}) not in html
