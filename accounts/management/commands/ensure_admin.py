from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from accounts.roles import ADMIN, roles_sync
from accounts.services import user_create


class Command(BaseCommand):
    help = "Create the first admin account if there is none; prints its generated password once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args: Any, **options: Any) -> None:
        roles_sync()
        users = get_user_model().objects
        if users.filter(groups__name=ADMIN).exists() or users.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists; not creating another.")
            return
        user, password = user_create(
            username=options["username"], email=options["email"], role=ADMIN
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin account {user.get_username()!r} with password: {password}\n"
                "It is shown only this once; change it after logging in."
            )
        )
