"""Upgrades backfill the daily rollups from the evaluations stored before they existed.

Uses this migration's models (posture.backfill takes the registry), so a later change to the
models cannot break an upgrade from here. Reversing keeps the rows: they are true history.
"""

from django.db import migrations


def backfill(apps, schema_editor):
    from posture.backfill import rollups_backfill

    rollups_backfill(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("posture", "0011_judging_fingerprint"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
