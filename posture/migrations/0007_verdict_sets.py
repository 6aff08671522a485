"""Effective verdicts stored once per evaluation (VerdictSet); 0008 derives existing history."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0002_initial"),
        ("compliance", "0002_roles"),
        ("posture", "0006_index_finding_evaluations"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkresult",
            name="controls",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="checkresult",
            name="missing",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="evaluation",
            name="verdicts_valid_until",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.CreateModel(
            name="VerdictSet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64)),
                ("statuses", models.JSONField(default=dict)),
                ("checks", models.JSONField(default=dict)),
                ("items", models.JSONField(default=dict)),
                ("causes", models.JSONField(default=list)),
                ("waivers", models.JSONField(default=list)),
                (
                    "cluster",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="clusters.cluster",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("cluster", "digest"), name="one_verdict_set_per_content"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="evaluation",
            name="verdict_set",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="evaluations",
                to="posture.verdictset",
            ),
        ),
    ]
