from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from clusters.bundles import read_bundle
from clusters.models import Cluster
from clusters.services import cluster_register
from pipeline.demo import DEFAULT_DAYS, DemoHistory, DemoHistorySkipped, demo_history_create
from posture.rollups import fleet_days_refresh

DEMO_DIR = Path(settings.BASE_DIR) / "demo" / "bundles"
DEMO_CLUSTERS = {
    "payments-prod": (
        "production",
        "Payments platform (GKE), mostly hardened",
        ["payments-oncall@example.com"],
    ),
    "storefront-staging": (
        "staging",
        "Storefront staging: many planted problems",
        ["storefront@example.com"],
    ),
    "edge-dev": (
        "development",
        "Edge dev cluster, collected with restricted rights",
        ["edge@example.com"],
    ),
}


class Command(BaseCommand):
    help = (
        "Register the demo clusters from the evidence bundles in demo/bundles (once), with "
        "back-dated history so their trends have something to show."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--history-days",
            type=int,
            default=DEFAULT_DAYS,
            help=f"days of back-dated collections before today (default {DEFAULT_DAYS}; 0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["history_days"]
        if days < 0:
            raise CommandError("--history-days must be 0 or more")
        started = time.perf_counter()
        generated: list[DemoHistory] = []
        for name, (environment, description, owners) in DEMO_CLUSTERS.items():
            # One transaction per cluster: the registration's collection is enqueued when it
            # commits, so a running worker collects the bundle only after its history exists,
            # and an interrupted load leaves no half-written history behind.
            with transaction.atomic():
                cluster = Cluster.objects.filter(name=name).first()
                if cluster is None:
                    cluster = cluster_register(
                        name=name,
                        source_kind=Cluster.SourceKind.BUNDLE,
                        bundle_path=DEMO_DIR / name,
                        environment=environment,
                        description=description,
                        owners=owners,
                    )
                    self.stdout.write(
                        self.style.SUCCESS(f"Registered {name}; its collection is queued")
                    )
                else:
                    self.stdout.write(f"{name} is already registered")
                history = self._history(cluster, days)
            if history is not None:
                generated.append(history)
                self.stdout.write(_summary(history))
        first_days = [history.first_day for history in generated if history.first_day]
        if first_days:
            refreshing = time.perf_counter()
            written = fleet_days_refresh(start=min(first_days), end=timezone.localdate())
            self.stdout.write(
                f"Fleet history: {written} days in {time.perf_counter() - refreshing:.1f} s"
            )
        if generated:
            self.stdout.write(f"Demo history loaded in {time.perf_counter() - started:.1f} s")

    def _history(self, cluster: Cluster, days: int) -> DemoHistory | None:
        if days == 0:
            return None
        try:
            return demo_history_create(
                cluster=cluster, inventory=read_bundle(DEMO_DIR / cluster.name), days=days
            )
        except DemoHistorySkipped as exc:
            self.stdout.write(f"  no history added: {exc}")
            return None


def _summary(history: DemoHistory) -> str:
    details = [f"{history.variants} variants", "Kubernetes " + " -> ".join(history.versions)]
    if history.waivers:
        details.append(f"{history.waivers} waiver(s)")
    return (
        f"  {history.collections} back-dated collections since {history.first_day} "
        f"({'; '.join(details)}) in {history.seconds:.1f} s"
    )
