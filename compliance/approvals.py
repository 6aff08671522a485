"""Who may approve a waiver: one owner for the rule the request form, the waiver list and the
request emails (alerts.approvals) all state.

Approving is the `compliance.approve_waiver` permission (accounts.roles gives it to Admin), held
through a role, directly, or as a superuser; nobody approves their own request (four eyes, also
a database constraint on Waiver).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

APPROVE_PERMISSION = "compliance.approve_waiver"


def _permission() -> Any:
    app_label, codename = APPROVE_PERMISSION.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename)


def approvers(*, excluding: int | None) -> list[Any]:
    """Active users who may approve waivers, but `excluding` (the requester), by username."""
    permission = _permission()
    candidates = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__in=permission)
            | Q(groups__permissions__in=permission)
        )
        .distinct()
        .order_by("pk")
    )
    if excluding is not None:
        candidates = candidates.exclude(pk=excluding)
    # The permission backends have the last word (a user's own and their groups' rights).
    return [user for user in candidates if user.has_perm(APPROVE_PERMISSION)]


@dataclass(frozen=True)
class Approval:
    """What a page says about who may approve: the roles holding the right, and the people."""

    roles: tuple[str, ...]
    people: tuple[str, ...]  # "name <email>" or the username

    @property
    def roles_text(self) -> str:
        return ", ".join(self.roles) if self.roles else "no role"

    @property
    def people_text(self) -> str:
        return ", ".join(self.people)


def approval_for(*, requester: int | None, approving: list[Any] | None = None) -> Approval:
    """Who may approve `requester`'s request; `approving`: `approvers(excluding=None)` when the
    caller has read it already (each user's rights are checked one by one)."""
    roles = tuple(
        Group.objects.filter(permissions__in=_permission())
        .order_by("name")
        .values_list("name", flat=True)
    )
    if approving is None:
        approving = approvers(excluding=requester)
    people = tuple(sorted(_person(user) for user in approving if user.pk != requester))
    return Approval(roles=roles, people=people)


def _person(user: Any) -> str:
    name = user.get_full_name() or user.get_username()
    return f"{name} <{user.email}>" if user.email else name
