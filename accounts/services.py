"""Writes of the accounts app."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction
from django.utils import timezone

from accounts.models import SsoIdentity
from accounts.roles import ADMIN, ROLE_ORDER, role_for_groups, roles_sync, user_role
from accounts.signals import account_changed


class AccountError(ValueError):
    """A change to an account that breaks a rule; the message is shown to the person."""


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


# --- Accounts managed in the app (every change audited through accounts.signals) ----------


def _account_state(user: AbstractUser) -> dict[str, Any]:
    return {
        "username": user.get_username(),
        "email": user.email,
        "role": user_role(user),
        "active": user.is_active,
    }


def _account_audit(
    *,
    by: AbstractUser,
    action: str,
    user: AbstractUser,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> None:
    account_changed.send(
        sender=type(user),
        actor=by,
        action=action,
        object_type="user",
        object_id=str(user.pk),
        before=before,
        after=after,
        at=at,
    )


def account_create(
    *, by: AbstractUser, username: str, email: str, role: str, password: str
) -> AbstractUser:
    """An admin creates a person's account in one role, with a first password they pass on."""
    if role not in ROLE_ORDER:
        raise AccountError(f"{role!r} is not a role.")
    with transaction.atomic():
        user, _ = user_create(username=username, email=email, role=role, password=password)
        _account_audit(
            by=by,
            action="user.create",
            user=user,
            before=None,
            after=_account_state(user),
            at=timezone.now(),
        )
    return user


def _account_update(
    *, by: AbstractUser, user: AbstractUser, action: str, change: Callable[[AbstractUser], bool]
) -> bool:
    """Apply `change` to the locked account and audit it; False when it changed nothing.

    `change` returns whether it did anything: an unchanged account writes no audit entry.
    """
    with transaction.atomic():
        user = type(user).objects.select_for_update().get(pk=user.pk)
        before = _account_state(user)
        if not change(user):
            return False
        _account_audit(
            by=by,
            action=action,
            user=user,
            before=before,
            after=_account_state(user),
            at=timezone.now(),
        )
    return True


def account_role_change(*, by: AbstractUser, user: AbstractUser, role: str) -> bool:
    """Give `user` exactly `role` ("" for none); False when it already had it.

    Nobody changes their own role: an admin demoting themselves by mistake could leave the
    installation without one, and promotion is what someone else must decide.
    """
    if role and role not in ROLE_ORDER:
        raise AccountError(f"{role!r} is not a role.")
    if user.pk == by.pk:
        raise AccountError("You cannot change your own role; ask another admin.")
    if user.is_superuser:
        raise AccountError(
            f"{user.get_username()} is a superuser: an admin whatever their role. "
            "Change superusers with manage.py."
        )

    def give_role(account: AbstractUser) -> bool:
        if user_role(account) == role:
            return False
        user_role_set(user=account, role=role)
        return True

    return _account_update(by=by, user=user, action="user.role_change", change=give_role)


def account_active_set(*, by: AbstractUser, user: AbstractUser, active: bool) -> bool:
    """Deactivate (or reactivate) an account; False when it already was.

    A deactivated person cannot sign in and their open sessions stop at the next request
    (Django's backends refuse inactive users); their history and audit entries stay.
    """
    if user.pk == by.pk and not active:
        raise AccountError("You cannot deactivate your own account; ask another admin.")

    def set_active(account: AbstractUser) -> bool:
        if account.is_active == active:
            return False
        account.is_active = active
        account.save(update_fields=["is_active"])
        return True

    action = "user.reactivate" if active else "user.deactivate"
    return _account_update(by=by, user=user, action=action, change=set_active)


def account_password_changed(*, user: AbstractUser) -> None:
    """Record that a person changed their own password (the password itself never is)."""
    _account_audit(
        by=user,
        action="user.password_change",
        user=user,
        before=None,
        after={"username": user.get_username()},
        at=timezone.now(),
    )
