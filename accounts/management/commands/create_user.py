from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.roles import ADMIN, AUDITOR, SECURITY_ENGINEER
from accounts.services import user_create

ROLES = {"admin": ADMIN, "engineer": SECURITY_ENGINEER, "auditor": AUDITOR}


class Command(BaseCommand):
    help = "Create a user with a role (admin, engineer, auditor); prints the generated password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=sorted(ROLES), required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        user, password = user_create(
            username=options["username"], email=options["email"], role=ROLES[options["role"]]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {user.get_username()} ({options['role']}); password: {password}"
            )
        )
