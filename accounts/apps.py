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
