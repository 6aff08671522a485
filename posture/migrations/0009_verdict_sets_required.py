"""Every evaluation has its verdict set (0007 derived them); in a migration of its own, since
PostgreSQL cannot alter a table with the backfill's constraint checks still pending."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("posture", "0008_derive_existing_verdicts")]

    operations = [
        migrations.AlterField(
            model_name="evaluation",
            name="verdict_set",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="evaluations",
                to="posture.verdictset",
            ),
        ),
    ]
