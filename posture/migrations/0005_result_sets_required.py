import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("posture", "0004_share_verdicts")]

    operations = [
        migrations.RemoveField(model_name="checkresult", name="evaluation"),
        migrations.AlterField(
            model_name="checkresult",
            name="cluster",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="clusters.cluster",
            ),
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="result_set",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="evaluations",
                to="posture.resultset",
            ),
        ),
        migrations.AddConstraint(
            model_name="checkresult",
            constraint=models.UniqueConstraint(
                fields=("cluster", "check_id", "digest"), name="one_result_per_content"
            ),
        ),
    ]
