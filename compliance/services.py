"""Writes of the compliance app, and the one read that applies waivers to verdicts.

Every write records an AuditEvent in its own transaction, so the log and the change commit or
roll back together. Views check permissions; these functions check the rules (four eyes,
expiry limits, which items may be attested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from clusters.models import Cluster
from compliance.guides import guide_get
from compliance.models import Attestation, AuditEvent, Waiver
from history.services import day_rescored
from posture import scoring
from posture.checks.base import REGISTRY, Status
from posture.models import CheckResult, Evaluation

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
    from posture import checks as _load  # noqa: F401  (registers the catalog)

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
        cluster_rescore(cluster=waiver.cluster, now=now)
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
        cluster_rescore(cluster=waiver.cluster, now=now)
    return waiver


def waivers_expire(*, now: datetime | None = None) -> list[int]:
    """Audit every waiver that expired since the last sweep and rescore its cluster.

    Expired waivers already stop applying in every read (state is derived from `now`); this
    sweep brings the stored scores in line. Idempotent: `expiry_recorded_at` marks the done.
    Clusters with active waivers are rescored too, so an evaluation stored by a collection
    since the last sweep shows its waived weight.
    """
    now = now or timezone.now()
    rescored: set[int] = set()
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
            cluster_rescore(cluster=waiver.cluster, now=now)
            rescored.add(waiver.cluster_id)
    active = set(Waiver.objects.active(now=now).values_list("cluster_id", flat=True)) - rescored
    for cluster in Cluster.objects.filter(pk__in=active).select_related("latest_evaluation"):
        cluster_rescore(cluster=cluster, now=now)
        rescored.add(cluster.pk)
    return sorted(rescored)


# --- Waivers applied to verdicts ------------------------------------------------------------


@dataclass
class EffectiveResult:
    """One check's verdict with the cluster's active waivers applied."""

    check_id: str
    status: str  # the raw status, or "waived"
    raw_status: str
    summary: str
    affected_total: int
    # Every affected object, each with "waived": True when an active waiver's scope covers it.
    affected: list[dict[str, Any]] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)

    @property
    def waived_count(self) -> int:
        return sum(1 for obj in self.affected if obj.get("waived"))

    @property
    def partially_waived(self) -> bool:
        return self.status == Status.FAIL and self.waived_count > 0


def effective_result(result: CheckResult, waivers: list[Waiver]) -> EffectiveResult:
    """Waivers only turn a failure into "waived"; unknown stays unknown, pass stays pass.

    An unscoped waiver waives the whole check. Scoped waivers waive it only when every
    affected object is inside their (combined) scope; otherwise the check keeps failing and
    the covered objects are marked.
    """
    affected = [dict(obj) for obj in result.affected or []]
    status = result.status
    applied: list[Waiver] = []
    if status == Status.FAIL and waivers:
        whole = [w for w in waivers if not w.is_scoped]
        scoped = [w for w in waivers if w.is_scoped]
        for obj in affected:
            covering = [w for w in scoped if w.covers(obj)]
            obj["waived"] = bool(whole or covering)
            applied.extend(w for w in covering if w not in applied)
        if whole:
            applied = [*whole, *applied]
            status = scoring.WAIVED
        elif affected and all(obj["waived"] for obj in affected):
            status = scoring.WAIVED
    return EffectiveResult(
        check_id=result.check_id,
        status=status,
        raw_status=result.status,
        summary=result.summary,
        affected_total=max(result.affected_total, len(affected)),
        affected=affected,
        waivers=applied,
    )


def effective_results(evaluation: Evaluation, *, now: datetime) -> list[EffectiveResult]:
    """Every CheckResult of the evaluation with the waivers active at `now` applied."""
    by_check: dict[str, list[Waiver]] = {}
    for waiver in Waiver.objects.for_cluster(evaluation.cluster_id).active(now=now):
        by_check.setdefault(waiver.check_id, []).append(waiver)
    return [
        effective_result(result, by_check.get(result.check_id, []))
        for result in evaluation.results.all()
    ]


def evaluation_rescore(evaluation: Evaluation, *, now: datetime | None = None) -> Evaluation:
    """Recompute score, coverage, area scores and counts with active waivers applied."""
    results = effective_results(evaluation, now=now or timezone.now())
    items = []
    counts: dict[str, int] = {}
    for result in results:
        items.append(scoring.scored_verdict(result.check_id, result.status))
        counts[result.status] = counts.get(result.status, 0) + 1
    report = scoring.score(items)
    evaluation.score = report.score
    evaluation.coverage = report.coverage
    evaluation.area_scores = report.area_dict()
    evaluation.status_counts = counts
    evaluation.save(update_fields=["score", "coverage", "area_scores", "status_counts"])
    day_rescored(evaluation=evaluation)
    return evaluation


def cluster_rescore(*, cluster: Cluster, now: datetime | None = None) -> Evaluation | None:
    """Rescore the cluster's latest evaluation; history keeps the scores it had at the time."""
    evaluation = cluster.latest_evaluation
    if evaluation is None:
        return None
    return evaluation_rescore(evaluation, now=now)
