from typing import Any

from django.core.management.base import BaseCommand

from clusters.crypto import generate_key


class Command(BaseCommand):
    help = "Print a new Fernet key for RAMPART_ENCRYPTION_KEYS (put it first to start rotating)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(generate_key())
