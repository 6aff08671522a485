"""Writes of the accounts app."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group

from accounts.roles import ADMIN, roles_sync


def user_create(
    *, username: str, email: str, role: str, password: str | None = None
) -> tuple[AbstractUser, str]:
    """Create a user in one role; returns the user and the password (generated when not given)."""
    roles_sync()
    password = password or secrets.token_urlsafe(18)
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    user.groups.add(Group.objects.get(name=role))
    if role == ADMIN:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user, password  # type: ignore[return-value]
