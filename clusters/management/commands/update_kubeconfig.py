from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.models import Cluster
from clusters.services import RegistrationError, cluster_update_kubeconfig


class Command(BaseCommand):
    help = (
        "Give a registered cluster new kubeconfig credentials, keeping its history (after a "
        "token expired, or a restore without the encryption keys)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--kubeconfig", type=Path, required=True)
        parser.add_argument("--context", help="kubeconfig context (default: current-context)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cluster = Cluster.objects.get(name=options["name"])
        except Cluster.DoesNotExist as exc:
            raise CommandError(f"no cluster named {options['name']!r}") from exc
        if cluster.source_kind != Cluster.SourceKind.KUBECONFIG:
            raise CommandError(f"{cluster.name} is not registered from a kubeconfig")
        try:
            text = options["kubeconfig"].read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {options['kubeconfig']}: {exc}") from exc
        try:
            cluster_update_kubeconfig(cluster=cluster, kubeconfig=text, context=options["context"])
        except RegistrationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Updated the credentials of {cluster.name}."))
