from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypedDict

from django.db import models
from django.utils import timezone


class EvaluationQuerySet(models.QuerySet["Evaluation"]):
    def for_cluster(self, cluster: object) -> EvaluationQuerySet:
        return self.filter(cluster=cluster)


class Evaluation(models.Model):
    """The checks' verdicts on one completed collection, with its scores.

    `result_set` holds the raw verdicts (what each check saw); `verdict_set` the effective ones
    (posture.evaluation.derive: waivers and attestations applied, points, checklist items),
    from which `score`, `coverage`, `area_scores` and `status_counts` were written by the same
    derivation. Pages read these; none computes a verdict or a score.
    """

    run = models.OneToOneField(
        "clusters.CollectionRun", on_delete=models.CASCADE, related_name="evaluation"
    )
    # Denormalised from run.cluster so history and fleet queries need no join.
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="evaluations"
    )
    created_at = models.DateTimeField(default=timezone.now)
    score = models.FloatField(null=True, blank=True)  # None: nothing could be judged
    coverage = models.FloatField(default=0.0)
    area_scores = models.JSONField(default=dict)
    status_counts = models.JSONField(default=dict)
    catalog_version = models.CharField(max_length=40, blank=True)
    # Open findings by severity after this evaluation reconciled: {"critical": 2, ...}.
    open_findings = models.JSONField(default=dict)
    result_set = models.ForeignKey(
        "ResultSet", on_delete=models.RESTRICT, related_name="evaluations"
    )
    verdict_set = models.ForeignKey(
        "VerdictSet", on_delete=models.RESTRICT, related_name="evaluations"
    )
    # The first waiver expiry or attestation lapse the effective verdict depends on: from then
    # on it must be derived again (posture.services.evaluations_rederive_due). Latest only.
    verdicts_valid_until = models.DateTimeField(null=True, blank=True, db_index=True)
    # posture.services.judging_fingerprint of what was judged: a collection with the same one
    # shares this evaluation's raw verdicts instead of judging again.
    judging_fingerprint = models.CharField(max_length=64, blank=True)

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cluster", "-created_at"], name="eval_cluster_created")]

    def __str__(self) -> str:
        return f"{self.cluster_id} evaluation {self.pk}"

    @property
    def results(self) -> models.QuerySet[CheckResult]:
        """This evaluation's verdicts, one per check."""
        ids = self.result_set.result_ids if self.result_set_id else []
        return CheckResult.objects.filter(pk__in=ids)

    @property
    def statuses(self) -> dict[str, str]:
        """Each check's effective status: what the pages, alerts and drift compare."""
        return dict(self.verdict_set.statuses) if self.verdict_set_id else {}


class CheckResult(models.Model):
    """One check's verdict on one cluster, stored once per distinct content.

    Evaluations share verdicts through their ResultSet: a cluster collected again without
    change adds no CheckResult row, and a change to one check adds one row.
    """

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    check_id = models.CharField(max_length=80)
    # sha256 over status, summary and affected objects: the content's identity.
    digest = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    summary = models.TextField(blank=True)
    affected_total = models.PositiveIntegerField(default=0)
    # Every affected object: [{kind, namespace, name, detail}, ...]. Never truncated.
    affected = models.JSONField(default=list)
    # The verdict of each control the check judges: {control: {status, summary, affected:
    # [[index into `affected`, detail], ...]}} (posture.results.Verdict).
    controls = models.JSONField(default=dict)
    # The inputs that were not collected: an unknown's reason, or a failure found without them.
    missing = models.JSONField(default=list)

    class Meta:
        ordering = ["check_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "check_id", "digest"], name="one_result_per_content"
            )
        ]

    def __str__(self) -> str:
        return f"{self.check_id}: {self.status}"


class ResultSet(models.Model):
    """Every check's verdict for one cluster, shared by each evaluation that saw the same."""

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    digest = models.CharField(max_length=64)  # sha256 over the (check, result digest) pairs
    # {check_id: status}: fleet-wide reads (drift, alerting) need no CheckResult rows.
    statuses = models.JSONField(default=dict)
    result_ids = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "digest"], name="one_result_set_per_content")
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} result set {self.pk}"


class VerdictSet(models.Model):
    """The effective verdict of one cluster's evaluation, shared by every evaluation that
    derived the same (posture.evaluation.Derived.as_stored): unchanged collections under
    unchanged governance add no row."""

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    digest = models.CharField(max_length=64)
    statuses = models.JSONField(default=dict)  # {check_id: effective status}
    # {check_id: {status, raw?, points?, waivers?, waived?|whole?}} for checks with more to say.
    checks = models.JSONField(default=dict)
    items = models.JSONField(default=dict)  # {guide: {item_id: [status, reason, attestation]}}
    causes = models.JSONField(default=list)  # [[cause, [check ids]], ...] most checks first
    # The waivers applied, as their terms read when derived: [{id, check_id, scope, expiry,
    # owner, reason}, ...].
    waivers = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "digest"], name="one_verdict_set_per_content"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} verdict set {self.pk}"


class FindingQuerySet(models.QuerySet["Finding"]):
    def for_cluster(self, cluster: object) -> FindingQuerySet:
        return self.filter(cluster=cluster)

    def open(self) -> FindingQuerySet:
        return self.filter(status=Finding.Status.OPEN)

    def resolved(self) -> FindingQuerySet:
        return self.filter(status=Finding.Status.RESOLVED)

    def time_to_fix(self) -> dict[str, dict[str, object]]:
        """Per severity: how many episodes were fixed and how long they stayed open.

        An episode runs from when the finding (re)opened to when it resolved, so a finding
        that was fixed, came back and was fixed again counts its latest episode. Scope it
        first: `Finding.objects.for_cluster(c).time_to_fix()`, or fleet-wide without.
        """
        from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max

        duration = ExpressionWrapper(
            F("resolved_at") - F("opened_at"), output_field=DurationField()
        )
        rows = (
            self.resolved()
            .filter(resolved_at__isnull=False)
            .values("severity")
            .annotate(fixed=Count("id"), average=Avg(duration), longest=Max(duration))
            .order_by()
        )
        return {row["severity"]: dict(row) for row in rows}


class FixSummary(TypedDict):
    fixed: int
    average_seconds: float | None
    longest_seconds: float | None
    open: int
    oldest_open_at: str | None  # ISO 8601


def fix_summary(findings: FindingQuerySet) -> dict[str, FixSummary]:
    """Per severity: time to fix and what is still open, as JSON (FleetDay keeps it; 2 queries)."""
    from django.db.models import Count, Min

    fixed = findings.time_to_fix()
    still_open = {
        severity: (count, oldest)
        for severity, count, oldest in findings.open()
        .values("severity")
        .annotate(count=Count("id"), oldest=Min("opened_at"))
        .values_list("severity", "count", "oldest")
        .order_by()
    }
    summary: dict[str, FixSummary] = {}
    for severity in {*fixed, *still_open}:
        done = fixed.get(severity, {})
        count, oldest = still_open.get(severity, (0, None))
        average, longest = done.get("average"), done.get("longest")
        fixed_count = done.get("fixed")
        summary[severity] = FixSummary(
            fixed=fixed_count if isinstance(fixed_count, int) else 0,
            average_seconds=average.total_seconds() if isinstance(average, timedelta) else None,
            longest_seconds=longest.total_seconds() if isinstance(longest, timedelta) else None,
            open=count,
            oldest_open_at=oldest.isoformat() if oldest else None,
        )
    return summary


class Finding(models.Model):
    """One check failing for one object of one cluster, across collections.

    Identity and the reconcile state machine are in posture/findings.py. Rows change only when
    the posture changes; a re-collection of an unchanged cluster only moves `last_seen_*`.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="findings"
    )
    check_id = models.CharField(max_length=80)
    # sha256 of check, owning workload and field: the identity, whatever the detail says.
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=80, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253, blank=True)
    field = models.CharField(max_length=300, blank=True)
    severity = models.CharField(max_length=10)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    detail = models.TextField(blank=True)  # as the latest evaluation that saw it put it
    # Indexed, like every link to an evaluation: retention deletes evaluations, and each
    # delete looks up (and nulls) the findings pointing at it; unindexed, pruning a day of a
    # 1,000-cluster fleet scanned the findings table once per evaluation (bench/, 322 s).
    first_seen_evaluation = models.ForeignKey(
        Evaluation, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen_at = models.DateTimeField()
    last_seen_evaluation = models.ForeignKey(
        Evaluation, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_seen_at = models.DateTimeField()
    # The current (or latest) episode: alerting reads "what opened / resolved in evaluation X".
    opened_evaluation = models.ForeignKey(
        Evaluation, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField()
    resolved_evaluation = models.ForeignKey(
        Evaluation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    times_reopened = models.PositiveIntegerField(default=0)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "check_id", "namespace", "kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "fingerprint"], name="one_finding_per_identity"
            )
        ]
        indexes = [
            # Open findings by severity per cluster: the dashboard's and alerting's main read.
            models.Index(fields=["cluster", "status", "severity"], name="finding_cluster_status"),
        ]

    def __str__(self) -> str:
        return f"{self.check_id} {self.kind}/{self.namespace}/{self.name} {self.field}".strip()

    def resolve(self, *, evaluation: Evaluation, at: datetime) -> None:
        self.status = self.Status.RESOLVED
        self.resolved_at = at
        self.resolved_evaluation = evaluation

    def reopen(self, *, evaluation: Evaluation, at: datetime, detail: str, severity: str) -> None:
        self.status = self.Status.OPEN
        self.times_reopened += 1
        self.opened_at = at
        self.opened_evaluation = evaluation
        self.resolved_at = None
        self.resolved_evaluation = None
        self.last_seen_at = at
        self.last_seen_evaluation = evaluation
        self.detail = detail
        self.severity = severity


# --- Daily rollups: the history that outlives detailed collections (posture.rollups) ---


class ClusterDayQuerySet(models.QuerySet["ClusterDay"]):
    def for_cluster(self, cluster: object) -> ClusterDayQuerySet:
        return self.filter(cluster=cluster)

    def between(self, start: date, end: date) -> ClusterDayQuerySet:
        return self.filter(day__gte=start, day__lte=end)


class ClusterDay(models.Model):
    """One cluster's posture on one day, as its last evaluation of the day left it.

    Written in the evaluation's transaction, so trends never disagree with the collections
    they summarise; kept after retention deletes those collections.
    """

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="days", db_index=False
    )
    day = models.DateField()
    # The day's last evaluation while detailed history still holds it; null once pruned.
    evaluation = models.ForeignKey(
        Evaluation, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    collections = models.PositiveSmallIntegerField(default=0)
    score = models.FloatField(null=True)
    lowest_score = models.FloatField(null=True)
    coverage = models.FloatField(default=0.0)
    area_scores = models.JSONField(default=dict)  # {area: score}, without the tallies
    open_findings = models.JSONField(default=dict)  # {"critical": 2, ...} at the day's end
    opened = models.PositiveIntegerField(default=0)  # new or reopened during the day
    resolved = models.PositiveIntegerField(default=0)
    kubernetes_version = models.CharField(max_length=100, blank=True)

    objects = ClusterDayQuerySet.as_manager()

    class Meta:
        db_table = "history_clusterday"  # created by the history app, which owned it first
        ordering = ["cluster", "day"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "day"], name="one_day_per_cluster")
        ]
        indexes = [models.Index(fields=["day"], name="cluster_day_day")]

    def __str__(self) -> str:
        return f"{self.cluster_id} {self.day}"


class FleetDay(models.Model):
    """The fleet on one day: each cluster counted by its latest rollup of the past week.

    One row per day for the whole fleet (environment "") and one per environment, so the
    fleet trend filtered by environment reads a year in one small query too.
    """

    day = models.DateField()
    environment = models.CharField(max_length=40, blank=True)
    clusters = models.PositiveIntegerField(default=0)  # clusters with a rollup that week
    scored = models.PositiveIntegerField(default=0)  # ... of which had a score
    mean_score = models.FloatField(null=True)
    median_score = models.FloatField(null=True)
    p10_score = models.FloatField(null=True)
    p90_score = models.FloatField(null=True)
    mean_coverage = models.FloatField(null=True)
    # Clusters per 10-point score bucket: {"0": n, "10": n, ..., "90": n, "none": n}.
    distribution = models.JSONField(default=dict)
    open_findings = models.JSONField(default=dict)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    # posture.models.fix_summary of the scope's findings when the day was refreshed as today:
    # fleet-wide time to fix aggregates every finding, too slow to compute per page view.
    time_to_fix = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField()

    class Meta:
        db_table = "history_fleetday"
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "day"], name="one_fleet_day_per_scope")
        ]

    def __str__(self) -> str:
        return f"fleet {self.environment or 'all'} {self.day}"
