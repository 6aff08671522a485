from typing import Any

from django.core.management.base import BaseCommand, CommandError

from clusters.crypto import CredentialsUnreadable
from clusters.services import credentials_rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every stored credential with the first key in RAMPART_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = credentials_rotate_all()
        except CredentialsUnreadable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted the credentials of {count} clusters."))
        self.stdout.write("Older keys can now be removed from RAMPART_ENCRYPTION_KEYS.")
