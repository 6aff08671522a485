"""Roles are Django groups holding permissions; views check permissions, never role names.

    admin              everything, including users and settings (also: superusers)
    security engineer  registers clusters, starts collections, attests, requests waivers
    auditor            reads everything, changes nothing
Approving waivers is the `compliance.approve_waiver` permission (Admin by default): give it to
whoever approves. Nobody approves their own request. The audit log is for auditors and admins.
Admins also see failed logins and unlock a locked-out person (django-axes' access attempts).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

ADMIN = "Admin"
SECURITY_ENGINEER = "Security engineer"
AUDITOR = "Auditor"

VIEW = [
    "clusters.view_cluster",
    "clusters.view_collectionrun",
    "posture.view_evaluation",
    "posture.view_checkresult",
    "compliance.view_attestation",
    "compliance.view_waiver",
    # Issuing a report changes no result: auditors generate and download them too.
    "compliance.view_report",
    "compliance.add_report",
]
ENGINEER = [
    *VIEW,
    "clusters.add_cluster",
    "clusters.change_cluster",
    "clusters.add_collectionrun",
    "compliance.add_attestation",
    "compliance.revoke_attestation",
    "compliance.add_waiver",
    "compliance.revoke_waiver",
    "alerts.add_subscription",
    "alerts.delete_subscription",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    AUDITOR: [*VIEW, "compliance.view_auditevent"],
    SECURITY_ENGINEER: ENGINEER,
    ADMIN: [
        *ENGINEER,
        "clusters.delete_cluster",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "compliance.approve_waiver",
        "compliance.view_auditevent",
        "alerts.view_notification",
        "alerts.send_test_email",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accesslog",
    ],
}
# What RAMPART_OIDC_GROUP_ROLES names each role (config/settings.py validates the names).
ROLE_KEYS = {"admin": ADMIN, "security_engineer": SECURITY_ENGINEER, "auditor": AUDITOR}
# The highest role wins when several groups map to roles.
ROLE_ORDER = (ADMIN, SECURITY_ENGINEER, AUDITOR)


def _permission(codename: str) -> Permission:
    app_label, _, name = codename.partition(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=name)


def roles_sync() -> None:
    """Create the role groups with exactly their permissions. Safe to run again."""
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(codename) for codename in codenames])


def user_role(user: object) -> str:
    """The role to show a person; decisions use permissions, not this name."""
    if getattr(user, "is_superuser", False):
        return ADMIN
    # Put on the user from the shared cache on each request (accounts.auth_cache).
    names = set(getattr(user, "group_names", ()))
    if not hasattr(user, "group_names"):
        groups = getattr(user, "groups", None)
        names = {group.name for group in groups.all()} if groups is not None else set()
    for role in ROLE_ORDER:
        if role in names:
            return role
    return ""


def role_for_groups(groups: list[str], group_roles: dict[str, str]) -> str:
    """The highest role any of the provider's groups maps to; "" when none does."""
    granted = {ROLE_KEYS[group_roles[group]] for group in groups if group in group_roles}
    return next((role for role in ROLE_ORDER if role in granted), "")
