from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from clusters.models import Cluster
from clusters.services import cluster_register

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
    help = "Register the demo clusters from the evidence bundles in demo/bundles (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, (environment, description, owners) in DEMO_CLUSTERS.items():
            if Cluster.objects.filter(name=name).exists():
                self.stdout.write(f"{name} is already registered")
                continue
            cluster_register(
                name=name,
                source_kind=Cluster.SourceKind.BUNDLE,
                bundle_path=DEMO_DIR / name,
                environment=environment,
                description=description,
                owners=owners,
            )
            self.stdout.write(self.style.SUCCESS(f"Registered {name}; its collection is queued"))
