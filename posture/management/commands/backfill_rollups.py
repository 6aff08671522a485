from typing import Any

from django.core.management.base import BaseCommand

from posture.backfill import rollups_backfill


class Command(BaseCommand):
    help = (
        "Write the daily rollups (cluster-days, fleet-days) missing for stored evaluations from "
        "before rollups existed. Idempotent: existing rows are kept, a second run writes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = rollups_backfill()
        if not done.cluster_days:
            self.stdout.write("Every stored evaluation's day is rolled up already; nothing to do.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Backfilled {done.cluster_days} cluster-days and refreshed {done.fleet_days} "
                f"fleet-days ({done.first_day} to {done.last_day})."
            )
        )
