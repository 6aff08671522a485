"""Verdicts stored by content: evaluations share a ResultSet instead of owning 71 rows each."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0002_initial"),
        ("posture", "0002_finding"),
    ]

    operations = [
        migrations.CreateModel(
            name="ResultSet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64)),
                ("statuses", models.JSONField(default=dict)),
                ("result_ids", models.JSONField(default=list)),
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
                        fields=("cluster", "digest"), name="one_result_set_per_content"
                    )
                ],
            },
        ),
        migrations.RemoveConstraint(model_name="checkresult", name="one_result_per_check"),
        migrations.AddField(
            model_name="checkresult",
            name="cluster",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="clusters.cluster",
            ),
        ),
        migrations.AddField(
            model_name="checkresult",
            name="digest",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="checkresult",
            name="evaluation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="results",
                to="posture.evaluation",
            ),
        ),
        migrations.AddField(
            model_name="evaluation",
            name="open_findings",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="evaluation",
            name="result_set",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="evaluations",
                to="posture.resultset",
            ),
        ),
    ]
