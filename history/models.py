"""Daily rollups: the history that outlives detailed collections (see history.services)."""

from __future__ import annotations

from datetime import date

from django.db import models


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
        "posture.Evaluation", null=True, on_delete=models.SET_NULL, related_name="+"
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
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "day"], name="one_fleet_day_per_scope")
        ]

    def __str__(self) -> str:
        return f"fleet {self.environment or 'all'} {self.day}"
