"""Sessions end after RAMPART_SESSION_IDLE_MINUTES without a page view, and SESSION_COOKIE_AGE
seconds after sign-in at the latest, whatever the browser does.

Django's own expiry slides with every saved session, so it cannot bound a session's whole life,
and saving on every request would let a page that polls in the background keep a session alive
on an unattended screen. Background requests (sent with X-Requested-With) do not count as
activity, and the last-seen time is written at most once a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "rampart_signed_in_at"
LAST_SEEN_AT = "rampart_last_seen_at"
LAST_SEEN_RESOLUTION_SECONDS = 60


def session_stamp(session: SessionBase, *, now: float) -> None:
    """Start a session's clocks (at sign-in, or the first request of an older session)."""
    session.setdefault(SIGNED_IN_AT, now)
    session[LAST_SEEN_AT] = now


def session_expired(session: SessionBase, *, now: float) -> bool:
    signed_in_at = session.get(SIGNED_IN_AT)
    last_seen_at = session.get(LAST_SEEN_AT)
    if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
        return True
    idle_seconds = settings.RAMPART_SESSION_IDLE_MINUTES * 60
    return bool(idle_seconds and last_seen_at is not None and now - last_seen_at > idle_seconds)


class SessionExpiryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and session_expired(request.session, now=time.time()):
            # Anonymous from here on: LoginRequiredMiddleware sends the person to the login page.
            logout(request)
        response = self.get_response(request)
        if request.user.is_authenticated:
            self._touch(request)
        return response

    @staticmethod
    def _touch(request: HttpRequest) -> None:
        session, now = request.session, time.time()
        if SIGNED_IN_AT not in session:
            session_stamp(session, now=now)
        elif "HTTP_X_REQUESTED_WITH" not in request.META:
            last_seen_at = session.get(LAST_SEEN_AT) or 0
            if now - last_seen_at >= LAST_SEEN_RESOLUTION_SECONDS:
                session[LAST_SEEN_AT] = now
