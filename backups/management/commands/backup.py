from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.archive import BackupError
from backups.services import backup_create


class Command(BaseCommand):
    help = (
        "Back up the database and the stored bundles and evidence files to one .tar.gz. "
        "The encryption keys are not in it: keep RAMPART_ENCRYPTION_KEYS safely elsewhere."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, type=Path, help="the .tar.gz to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup_create(output=options["output"])
        except (BackupError, OSError) as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {summary.objects} rows and {summary.media_files} files to "
                f"{summary.path}."
            )
        )
        self.stdout.write(
            "Its cluster credentials need the encryption keys with fingerprints "
            + ", ".join(summary.key_fingerprints)
            + " (not in the backup: keep RAMPART_ENCRYPTION_KEYS apart from it)."
        )
        if not settings.RAMPART_ENCRYPTION_KEYS:
            self.stderr.write(
                "RAMPART_ENCRYPTION_KEYS is not set: the key is derived from SECRET_KEY, so a "
                "restore needs this same SECRET_KEY."
            )
