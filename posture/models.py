from __future__ import annotations

from django.db import models
from django.utils import timezone


class EvaluationQuerySet(models.QuerySet["Evaluation"]):
    def for_cluster(self, cluster: object) -> EvaluationQuerySet:
        return self.filter(cluster=cluster)


class Evaluation(models.Model):
    """The checks' verdicts on one completed collection, with its scores."""

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

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cluster", "-created_at"], name="eval_cluster_created")]

    def __str__(self) -> str:
        return f"{self.cluster_id} evaluation {self.pk}"


class CheckResult(models.Model):
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="results")
    check_id = models.CharField(max_length=80)
    status = models.CharField(max_length=20)
    summary = models.TextField(blank=True)
    affected_total = models.PositiveIntegerField(default=0)
    # Every affected object: [{kind, namespace, name, detail}, ...]. Never truncated.
    affected = models.JSONField(default=list)

    class Meta:
        ordering = ["check_id"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "check_id"], name="one_result_per_check")
        ]

    def __str__(self) -> str:
        return f"{self.check_id}: {self.status}"
