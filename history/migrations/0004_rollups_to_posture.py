"""The daily rollups now belong to the posture app (posture 0008); their tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0003_fleet_time_to_fix"),
        ("posture", "0010_rollups_from_history"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ClusterDay"),
                migrations.DeleteModel(name="FleetDay"),
            ],
        )
    ]
