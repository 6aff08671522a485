"""Writes of the compliance app: attestations, waivers, their audit, and the governance terms.

Every write records an AuditEvent in its own transaction, so the log and the change commit or
roll back together, and re-derives the cluster's latest evaluation in that same transaction
(posture.services.evaluation_rederive): the stored verdict every page reads reflects the change
at once. Views check permissions; these functions check the rules (four eyes, expiry limits,
which items may be attested).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from clusters.models import Cluster
from clusters.page_cache import page_data_changed
from compliance.models import Attestation, AuditEvent, Waiver
from posture.checklist import AttestationTerms
from posture.checks.base import REGISTRY
from posture.evaluation import Governance
from posture.guides import guide_get
from posture.models import Evaluation
from posture.services import evaluation_rederive

# Attestations are yearly at most: an auditor expects a manual control to be looked at again.
ATTESTATION_MAX_DAYS = 366
Person = User | AnonymousUser


def account(person: Person | None) -> User | None:
    """The user to record; None for Rampart itself (tasks) or an anonymous request."""
    return None if person is None or isinstance(person, AnonymousUser) else person


class ComplianceError(ValueError):
    """A request that breaks a rule; the message is shown to the person."""


def audit_record(
    *,
    actor: Person | None,
    action: str,
    obj: Attestation | Waiver,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> AuditEvent:
    cluster = obj.cluster
    user = account(actor)
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        cluster=cluster,
        cluster_name=cluster.name,
        before=before,
        after=after,
        at=at,
    )


def audit_cluster_change(
    *,
    cluster: Cluster,
    actor: Any,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    **signal: Any,
) -> AuditEvent:
    """The receiver of clusters.signals.cluster_changed (connected in ComplianceConfig.ready):
    a change to what a cluster's collections read, audited in the change's own transaction."""
    return _signalled_event(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        cluster=cluster,
        before=before,
        after=after,
        at=at,
    )


def _signalled_event(
    *,
    actor: Any,
    action: str,
    object_type: str,
    object_id: str,
    cluster: Cluster | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> AuditEvent:
    """An AuditEvent for a change another app signalled (its actor may be anything or None)."""
    user = account(actor) if isinstance(actor, User | AnonymousUser) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        cluster=cluster,
        cluster_name=cluster.name if cluster else "",
        before=before,
        after=after,
        at=at,
    )


def audit_account_change(
    *,
    actor: Any,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    **signal: Any,
) -> AuditEvent:
    """The receiver of accounts.signals.account_changed (connected in ComplianceConfig.ready):
    an account created, its role changed, deactivated or its password changed, audited in the
    change's own transaction. No cluster: these events belong to the whole installation."""
    return _signalled_event(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        cluster=None,
        before=before,
        after=after,
        at=at,
    )


# --- Attestations -------------------------------------------------------------------------


def attestation_create(
    *,
    cluster: Cluster,
    guide: str,
    item_id: str,
    by: Person,
    justification: str,
    reattest_by: date,
    evidence_file: UploadedFile | None = None,
    evidence_link: str = "",
    now: datetime | None = None,
) -> Attestation:
    """Record that a person checked a manual control on this cluster, with evidence."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    found = guide_get(guide)
    item = found.item(item_id) if found else None
    if found is None or item is None:
        raise ComplianceError(f"{guide} has no item {item_id}.")
    if not item.manual:
        raise ComplianceError(f"{guide} {item_id} is judged by checks; it cannot be attested.")
    if not justification.strip():
        raise ComplianceError("Say what was checked and how.")
    if evidence_file is None and not evidence_link:
        raise ComplianceError("Attach an evidence file or link to one.")
    if not today < reattest_by <= today + timedelta(days=ATTESTATION_MAX_DAYS):
        raise ComplianceError(
            f"The re-attestation date must be after today and within {ATTESTATION_MAX_DAYS} days."
        )
    with transaction.atomic():
        attestation = Attestation(
            cluster=cluster,
            guide=guide,
            item_id=item_id,
            justification=justification.strip(),
            evidence_link=evidence_link,
            attested_by=account(by),
            attested_at=now,
            reattest_by=reattest_by,
        )
        if evidence_file is not None:
            attestation.evidence_file.save(
                evidence_file.name or "evidence", evidence_file, save=False
            )
        attestation.save()
        audit_record(
            actor=by,
            action="attestation.create",
            obj=attestation,
            before=None,
            after=attestation.snapshot(),
            at=now,
        )
        cluster_rederive(cluster=cluster, now=now)
    return attestation


def attestation_revoke(
    *, attestation: Attestation, by: Person, now: datetime | None = None
) -> Attestation:
    now = now or timezone.now()
    with transaction.atomic():
        attestation = Attestation.objects.select_for_update().get(pk=attestation.pk)
        if attestation.revoked_at:
            raise ComplianceError("This attestation is already revoked.")
        before = attestation.snapshot()
        attestation.revoked_at = now
        attestation.revoked_by = account(by)
        attestation.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=by,
            action="attestation.revoke",
            obj=attestation,
            before=before,
            after=attestation.snapshot(),
            at=now,
        )
        cluster_rederive(cluster=attestation.cluster, now=now)
    return attestation


# --- Waivers ------------------------------------------------------------------------------


def workload_key(value: str) -> str:
    """ "Kind/namespace/name", accepting "Kind/name" for cluster-scoped objects."""
    parts = [part.strip() for part in value.strip().split("/")]
    if len(parts) == 2:
        parts.insert(1, "")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise ComplianceError(f"{value!r} is not Kind/namespace/name.")
    return "/".join(parts)


def waiver_request(
    *,
    cluster: Cluster,
    check_id: str,
    by: Person,
    owner_email: str,
    reason: str,
    expires_at: datetime,
    namespaces: list[str] | None = None,
    workloads: list[str] | None = None,
    now: datetime | None = None,
) -> Waiver:
    """Ask to accept a failing check's risk until `expires_at`; applies once approved."""
    now = now or timezone.now()
    if check_id not in REGISTRY:
        raise ComplianceError(f"There is no check {check_id}.")
    if not reason.strip():
        raise ComplianceError("Give the reason the risk is accepted.")
    max_days = settings.RAMPART_WAIVER_MAX_DAYS
    if not now < expires_at <= now + timedelta(days=max_days):
        raise ComplianceError(f"A waiver must expire in the future and within {max_days} days.")
    with transaction.atomic():
        waiver = Waiver.objects.create(
            cluster=cluster,
            check_id=check_id,
            namespaces=sorted({n.strip() for n in namespaces or [] if n.strip()}),
            workloads=sorted({workload_key(w) for w in workloads or [] if w.strip()}),
            owner_email=owner_email,
            reason=reason.strip(),
            expires_at=expires_at,
            requested_by=account(by),
            requested_at=now,
        )
        page_data_changed(cluster_id=cluster.pk)  # pages mark a pending request
        audit_record(
            actor=by,
            action="waiver.request",
            obj=waiver,
            before=None,
            after=waiver.snapshot(),
            at=now,
        )
    return waiver


def waiver_approve(*, waiver: Waiver, by: Person, now: datetime | None = None) -> Waiver:
    now = now or timezone.now()
    with transaction.atomic():
        waiver = Waiver.objects.select_for_update().select_related("cluster").get(pk=waiver.pk)
        if waiver.requested_by_id is not None and waiver.requested_by_id == by.pk:
            raise ComplianceError("A waiver must be approved by someone other than its requester.")
        state = waiver.state(now=now)
        if state != Waiver.State.PENDING:
            raise ComplianceError(f"Only pending waivers can be approved; this one is {state}.")
        before = waiver.snapshot()
        waiver.approved_by = account(by)
        waiver.approved_at = now
        waiver.save(update_fields=["approved_by", "approved_at"])
        audit_record(
            actor=by,
            action="waiver.approve",
            obj=waiver,
            before=before,
            after=waiver.snapshot(),
            at=now,
        )
        cluster_rederive(cluster=waiver.cluster, now=now)
    return waiver


def waiver_revoke(*, waiver: Waiver, by: Person, now: datetime | None = None) -> Waiver:
    now = now or timezone.now()
    with transaction.atomic():
        waiver = Waiver.objects.select_for_update().select_related("cluster").get(pk=waiver.pk)
        if waiver.state(now=now) in (Waiver.State.REVOKED, Waiver.State.EXPIRED):
            raise ComplianceError("This waiver no longer applies; there is nothing to revoke.")
        before = waiver.snapshot()
        waiver.revoked_by = account(by)
        waiver.revoked_at = now
        waiver.save(update_fields=["revoked_by", "revoked_at"])
        audit_record(
            actor=by,
            action="waiver.revoke",
            obj=waiver,
            before=before,
            after=waiver.snapshot(),
            at=now,
        )
        cluster_rederive(cluster=waiver.cluster, now=now)
    return waiver


def waivers_expire(*, now: datetime | None = None) -> list[int]:
    """Audit every waiver that expired since the last sweep and re-derive its cluster.

    Stored verdicts name the moment they go stale (Evaluation.verdicts_valid_until), and
    `verdicts_refresh_due` re-derives them then; this sweep records each expiry in the audit
    log once (`expiry_recorded_at` marks the done) and re-derives too, so the two agree.
    """
    now = now or timezone.now()
    rederived: set[int] = set()
    for waiver_id in Waiver.objects.expired_unrecorded(now=now).values_list("pk", flat=True):
        with transaction.atomic():
            waiver = Waiver.objects.select_for_update().select_related("cluster").get(pk=waiver_id)
            if waiver.expiry_recorded_at is not None:
                continue  # another sweep got there first
            Waiver.objects.filter(pk=waiver.pk).update(expiry_recorded_at=now)
            audit_record(
                actor=None,
                action="waiver.expire",
                obj=waiver,
                before=None,
                after=waiver.snapshot(),
                at=now,
            )
            cluster_rederive(cluster=waiver.cluster, now=now)
            rederived.add(waiver.cluster_id)
    return sorted(rederived)


# --- Governance as the evaluation reads it ----------------------------------------------------


def governance_for(*, cluster_id: int, now: datetime) -> Governance:
    """The waivers active and the attestations unrevoked at `now`, as derive's plain terms."""
    waivers = tuple(
        waiver.terms()
        for waiver in Waiver.objects.for_cluster(cluster_id).active(now=now).order_by("pk")
    )
    attestations = tuple(
        AttestationTerms(a.pk, a.guide, a.item_id, a.reattest_by)
        for a in Attestation.objects.for_cluster(cluster_id)
        .filter(revoked_at__isnull=True, attested_at__lte=now)
        .order_by("pk")
    )
    return Governance(waivers=waivers, attestations=attestations)


def cluster_rederive(*, cluster: Cluster, now: datetime | None = None) -> Evaluation | None:
    """Derive the cluster's latest evaluation again under governance as it stands at `now`;
    history keeps the verdicts it had at the time."""
    now = now or timezone.now()
    # The checklist shows attestations and waivers beside the verdicts, evaluated or not.
    page_data_changed(cluster_id=cluster.pk)
    evaluation = (
        Evaluation.objects.select_related("run", "result_set")
        .filter(pk=Cluster.objects.filter(pk=cluster.pk).values("latest_evaluation")[:1])
        .first()
    )
    if evaluation is None:
        return None
    return evaluation_rederive(
        evaluation=evaluation, governance=governance_for(cluster_id=cluster.pk, now=now), now=now
    )


def verdicts_refresh_due(*, now: datetime | None = None) -> list[int]:
    """Re-derive every latest evaluation whose verdict went stale by itself (a waiver expired,
    an attestation lapsed); returns the clusters re-derived."""
    now = now or timezone.now()
    due = Cluster.objects.filter(latest_evaluation__verdicts_valid_until__lte=now)
    refreshed = []
    for cluster in due:
        with transaction.atomic():
            cluster_rederive(cluster=cluster, now=now)
        refreshed.append(cluster.pk)
    return refreshed
