from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.base import DeserializationError
from django.db import DatabaseError

from backups.archive import BackupError
from backups.services import backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into a freshly migrated database "
        "(--replace deletes everything in the database first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="delete every row of this database before restoring",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup_restore(path=options["archive"], replace=options["replace"])
        except (BackupError, OSError, DatabaseError, DeserializationError) as exc:
            raise CommandError(f"restore failed, nothing was changed: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {summary.objects} rows ({summary.clusters} clusters) and "
                f"{summary.media_files} files. Everyone signs in again."
            )
        )
        if summary.unreadable_credentials:
            self.stderr.write(
                self.style.WARNING(
                    f"The configured RAMPART_ENCRYPTION_KEYS cannot decrypt the credentials of "
                    f"{len(summary.unreadable_credentials)} clusters: "
                    + ", ".join(summary.unreadable_credentials)
                    + ". Put the keys the backup was made with back into "
                    "RAMPART_ENCRYPTION_KEYS, or register those clusters again; until then "
                    "their collections fail."
                )
            )
        if summary.missing_media:
            self.stderr.write(
                self.style.WARNING(
                    f"{len(summary.missing_media)} stored files were missing when the backup was "
                    f"made, e.g. {summary.missing_media[0]}."
                )
            )
