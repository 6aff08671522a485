"""Writes of the accounts app."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction

from accounts.models import SsoIdentity
from accounts.roles import ADMIN, ROLE_ORDER, role_for_groups, roles_sync


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


def user_role_set(*, user: AbstractUser, role: str) -> None:
    """Give the user exactly this role ("" for none); groups that are not roles stay as they are."""
    user.groups.remove(*Group.objects.filter(name__in=ROLE_ORDER).exclude(name=role))
    if role:
        group = Group.objects.filter(name=role).first()
        if group is None:  # a database whose role groups were deleted: make them again
            roles_sync()
            group = Group.objects.get(name=role)
        user.groups.add(group)
    is_staff = role == ADMIN or user.is_superuser
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


def _free_username(wanted: str) -> str:
    """`wanted`, or `wanted-sso`, `wanted-sso-2`... whichever no account has yet."""
    users = get_user_model().objects
    base = wanted[:140] or "sso-user"
    for candidate in (base, f"{base}-sso", *(f"{base}-sso-{n}" for n in range(2, 1000))):
        if not users.filter(username=candidate).exists():
            return candidate
    return f"{base}-{secrets.token_hex(4)}"


def sso_sign_in(
    *, issuer: str, subject: str, username: str, email: str, groups: list[str]
) -> AbstractUser:
    """The account of a person signing in through single sign-on, created the first time.

    The role is recomputed from the provider's groups at every sign-in
    (RAMPART_OIDC_GROUP_ROLES): the provider is the source of truth for these accounts, and a
    person whose groups map to no role gets none. The account has no usable password.
    """
    with transaction.atomic():
        identity = (
            SsoIdentity.objects.select_related("user")
            .select_for_update()
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            user = get_user_model().objects.create_user(
                username=_free_username(username or email or subject), email=email
            )
            identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        else:
            user = identity.user
            identity.save(update_fields=["last_sign_in_at"])
            if email and user.email != email:
                user.email = email
                user.save(update_fields=["email"])
        user_role_set(user=user, role=role_for_groups(groups, settings.RAMPART_OIDC_GROUP_ROLES))
    return user  # type: ignore[return-value]
