"""Attestations of manual controls, governed waivers of failing checks, and the audit log.

State is derived from timestamps and `now`, never stored as a status column, so an expired
waiver stops applying by itself and a lapsed attestation falls back to "manual" without a job:

    Waiver       pending  (requested, not approved)     does not apply
                 active   (approved, before expires_at) applies
                 expired  (expires_at <= now)           stops applying
                 revoked  (revoked_at set)              stops applying
    Attestation  active   (today <= reattest_by)
                 lapsed   (today > reattest_by)         the item is manual again
                 revoked  (revoked_at set)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from posture.evaluation import WaiverTerms


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


class AttestationQuerySet(models.QuerySet["Attestation"]):
    def for_cluster(self, cluster: Any) -> AttestationQuerySet:
        return self.filter(cluster=cluster)

    def current(self, *, today: date) -> AttestationQuerySet:
        """Not revoked and not past its re-attestation date."""
        return self.filter(revoked_at__isnull=True, reattest_by__gte=today)


class Attestation(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        LAPSED = "lapsed", "Lapsed (re-attestation overdue)"
        REVOKED = "revoked", "Revoked"

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="attestations"
    )
    guide = models.SlugField(max_length=40)
    item_id = models.CharField(max_length=40)
    justification = models.TextField()
    # Stored under MEDIA_ROOT, which is never served: the evidence view streams it after a
    # permission check.
    evidence_file = models.FileField(upload_to="attestations/%Y/%m/", blank=True, max_length=300)
    evidence_link = models.URLField(blank=True, max_length=500)
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    attested_at = models.DateTimeField(default=timezone.now)
    reattest_by = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AttestationQuerySet.as_manager()

    class Meta:
        ordering = ["-attested_at", "-id"]
        indexes = [models.Index(fields=["cluster", "guide", "item_id"], name="attest_item")]
        permissions = [("revoke_attestation", "Can revoke attestations")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(evidence_file="") | ~Q(evidence_link=""),
                name="attestation_has_evidence",
            )
        ]

    def __str__(self) -> str:
        return f"{self.guide} {self.item_id} on {self.cluster_id}"

    def state(self, *, today: date) -> str:
        if self.revoked_at:
            return self.State.REVOKED
        if today > self.reattest_by:
            return self.State.LAPSED
        return self.State.ACTIVE

    def snapshot(self) -> dict[str, Any]:
        return {
            "guide": self.guide,
            "item_id": self.item_id,
            "justification": self.justification,
            "evidence_file": self.evidence_file.name or None,
            "evidence_link": self.evidence_link or None,
            "attested_by": self.attested_by_id,
            "attested_at": _iso(self.attested_at),
            "reattest_by": _iso(self.reattest_by),
            "revoked_at": _iso(self.revoked_at),
            "revoked_by": self.revoked_by_id,
        }


class WaiverQuerySet(models.QuerySet["Waiver"]):
    def for_cluster(self, cluster: Any) -> WaiverQuerySet:
        return self.filter(cluster=cluster)

    def active(self, *, now: datetime) -> WaiverQuerySet:
        return self.filter(approved_at__isnull=False, revoked_at__isnull=True, expires_at__gt=now)

    def pending(self, *, now: datetime) -> WaiverQuerySet:
        return self.filter(approved_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)

    def expired_unrecorded(self, *, now: datetime) -> WaiverQuerySet:
        """Approved waivers that have expired since the last sweep."""
        return self.filter(
            approved_at__isnull=False,
            revoked_at__isnull=True,
            expires_at__lte=now,
            expiry_recorded_at__isnull=True,
        )


class Waiver(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="waivers"
    )
    check_id = models.CharField(max_length=80)
    # Empty scope waives the whole check; otherwise only objects in these namespaces or these
    # workloads ("Kind/namespace/name", namespace empty for cluster-scoped objects).
    namespaces = models.JSONField(default=list, blank=True)
    workloads = models.JSONField(default=list, blank=True)
    owner_email = models.EmailField()
    reason = models.TextField()
    expires_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set by the expiry sweep once it has audited the expiry and rescored the cluster.
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["cluster", "check_id"], name="waiver_cluster_check")]
        permissions = [
            ("approve_waiver", "Can approve waivers requested by someone else"),
            ("revoke_waiver", "Can revoke waivers"),
        ]
        constraints = [
            # Four eyes, enforced by the database as well as by the service.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="waiver_approver_not_requester",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("requested_at")), name="waiver_expires_after_request"
            ),
        ]

    def __str__(self) -> str:
        return f"waiver of {self.check_id} on {self.cluster_id}"

    def state(self, *, now: datetime) -> str:
        if self.revoked_at:
            return self.State.REVOKED
        if self.expires_at <= now:
            return self.State.EXPIRED
        if self.approved_at is None:
            return self.State.PENDING
        return self.State.ACTIVE

    @property
    def is_scoped(self) -> bool:
        return bool(self.namespaces or self.workloads)

    def terms(self) -> WaiverTerms:
        """What the evaluation applies (posture.evaluation.WaiverTerms owns the scope rule)."""
        return WaiverTerms(
            id=self.pk,
            check_id=self.check_id,
            namespaces=tuple(self.namespaces),
            workloads=tuple(self.workloads),
            expires_at=self.expires_at,
            owner=self.owner_email,
            reason=self.reason,
        )

    def covers(self, obj: dict[str, Any]) -> bool:
        """Whether an affected object {kind, namespace, name} is inside this waiver's scope."""
        return self.terms().covers(obj)

    def snapshot(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "namespaces": list(self.namespaces),
            "workloads": list(self.workloads),
            "owner_email": self.owner_email,
            "reason": self.reason,
            "expires_at": _iso(self.expires_at),
            "requested_by": self.requested_by_id,
            "approved_by": self.approved_by_id,
            "approved_at": _iso(self.approved_at),
            "revoked_by": self.revoked_by_id,
            "revoked_at": _iso(self.revoked_at),
        }


class AppendOnlyError(RuntimeError):
    """Audit events are written once and never changed or removed."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")

    def for_listing(self) -> AuditEventQuerySet:
        return self.order_by("-at", "-id")


class AuditEvent(models.Model):
    """Who changed what, with the state before and after. Append-only."""

    # No database foreign keys and copies of the names: deleting a user or a cluster must
    # neither cascade into the log nor rewrite it.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)  # "" = Rampart itself
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=60)
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    cluster_name = models.CharField(max_length=100, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'rampart'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")


class ReportQuerySet(models.QuerySet["Report"]):
    def for_cluster(self, cluster: Any) -> ReportQuerySet:
        return self.filter(cluster=cluster)

    def for_fleet(self) -> ReportQuerySet:
        return self.filter(cluster__isnull=True)

    def for_listing(self) -> ReportQuerySet:
        return self.select_related("cluster", "generated_by").order_by("-created_at", "-id")


class Report(models.Model):
    """A compliance report Rampart issued (compliance/reports), and the file it issued.

        pending  --task claims-->  running  --built-->  done
                                          \\--error-->  failed

    The file lives under RAMPART_DATA_DIR/reports, never under a served URL: the download view
    streams it after a permission check. `content_sha256` is the SHA-256 of the report's data
    as canonical JSON (printed in the PDF); `file_sha256` of the issued bytes, which is how
    `compliance_report --verify` recognises a file as Rampart's, byte for byte.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Building"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    # Null for a fleet report (all clusters, or one `environment`). A deleted cluster keeps
    # its issued reports verifiable: the name is copied.
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    cluster_name = models.CharField(max_length=100, blank=True)
    environment = models.CharField(max_length=40, blank=True)
    guide = models.SlugField(max_length=40)
    # Either as of a date (period_start null) or for a period [period_start, period_end].
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField()
    format = models.CharField(max_length=5, choices=Format.choices)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    generated_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)  # percent, for the page's poll
    stage = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    file_path = models.CharField(max_length=300, blank=True)  # relative to RAMPART_DATA_DIR
    file_size = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(null=True, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True, db_index=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.guide} report on {self.scope_label} ({self.period_label})"

    @property
    def is_fleet(self) -> bool:
        return not self.cluster_name

    @property
    def scope_label(self) -> str:
        if self.cluster_name:
            return self.cluster_name
        return f"fleet ({self.environment})" if self.environment else "fleet (all clusters)"

    @property
    def period_label(self) -> str:
        if self.period_start:
            return f"{self.period_start:%Y-%m-%d} to {self.period_end:%Y-%m-%d}"
        return f"as of {self.period_end:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def filename(self) -> str:
        scope = self.cluster_name or f"fleet-{self.environment or 'all'}"
        return f"rampart-{scope}-{self.guide}-{self.period_end:%Y%m%d}-{self.pk}.{self.format}"
