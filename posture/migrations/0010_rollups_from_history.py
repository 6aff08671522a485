"""The daily rollups move from the history app to posture, their tables unchanged.

Posture owns stored verdicts, and re-deriving a verdict updates its day in the same
transaction; the tables keep their names (history_clusterday, history_fleetday), so this moves
only Django's picture of who owns them.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0002_initial"),
        ("history", "0003_fleet_time_to_fix"),
        ("posture", "0009_verdict_sets_required"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="FleetDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("environment", models.CharField(blank=True, max_length=40)),
                        ("clusters", models.PositiveIntegerField(default=0)),
                        ("scored", models.PositiveIntegerField(default=0)),
                        ("mean_score", models.FloatField(null=True)),
                        ("median_score", models.FloatField(null=True)),
                        ("p10_score", models.FloatField(null=True)),
                        ("p90_score", models.FloatField(null=True)),
                        ("mean_coverage", models.FloatField(null=True)),
                        ("distribution", models.JSONField(default=dict)),
                        ("open_findings", models.JSONField(default=dict)),
                        ("opened", models.PositiveIntegerField(default=0)),
                        ("resolved", models.PositiveIntegerField(default=0)),
                        ("time_to_fix", models.JSONField(default=dict)),
                        ("refreshed_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "history_fleetday",
                        "ordering": ["day"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("environment", "day"), name="one_fleet_day_per_scope"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ClusterDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField()),
                        ("collections", models.PositiveSmallIntegerField(default=0)),
                        ("score", models.FloatField(null=True)),
                        ("lowest_score", models.FloatField(null=True)),
                        ("coverage", models.FloatField(default=0.0)),
                        ("area_scores", models.JSONField(default=dict)),
                        ("open_findings", models.JSONField(default=dict)),
                        ("opened", models.PositiveIntegerField(default=0)),
                        ("resolved", models.PositiveIntegerField(default=0)),
                        ("kubernetes_version", models.CharField(blank=True, max_length=100)),
                        (
                            "cluster",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="days",
                                to="clusters.cluster",
                            ),
                        ),
                        (
                            "evaluation",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="posture.evaluation",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "history_clusterday",
                        "ordering": ["cluster", "day"],
                        "indexes": [models.Index(fields=["day"], name="cluster_day_day")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("cluster", "day"), name="one_day_per_cluster"
                            )
                        ],
                    },
                ),
            ],
        )
    ]
