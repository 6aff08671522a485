from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from posture.release_catalog import import_catalog
from posture.release_schema import CatalogError


class Command(BaseCommand):
    help = (
        "Import an updated release catalog (Rampart's kubernetes.json format) or the official "
        "Kubernetes CVE feed JSON. Patching checks use it from the next collection on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = import_catalog(options["source"], Path(settings.DATA_DIR) / "catalog")
        except (CatalogError, OSError) as exc:
            raise CommandError(f"nothing imported: {exc}") from exc
        if result.written_to is None:
            self.stdout.write(f"Nothing newer to import: {result.message}")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.source} as catalog {result.catalog_version} "
                f"({result.cves_total} CVEs, {result.cves_added} added, "
                f"{result.cves_updated} updated) "
                f"into {result.written_to}."
            )
        )
