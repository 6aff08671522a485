from __future__ import annotations

import time
from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest


def _start_session_clocks(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # In the request that signs in, which saves the session anyway: no extra write later.
    from accounts.middleware import session_stamp

    if request is not None and hasattr(request, "session"):
        session_stamp(request.session, now=time.time())


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from accounts import system_checks  # noqa: F401  (registers the checks)

        user_logged_in.connect(_start_session_clocks, dispatch_uid="rampart-session-clocks")
        _connect_permission_changes()


def _connect_permission_changes() -> None:
    """Whatever can change what a user may do drops the cached permission sets (auth_cache)."""
    from django.contrib.auth.models import Group, Permission, User
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from accounts.auth_cache import permissions_changed

    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            permissions_changed, sender=through, dispatch_uid=f"auth-cache-{through}"
        )
    for model in (Group, Permission, User):
        for signal in (post_save, post_delete):
            if model is User and signal is post_save:
                continue  # every sign-in saves last_login; superuser status is in the key
            signal.connect(permissions_changed, sender=model, dispatch_uid=f"auth-cache-{model}")
