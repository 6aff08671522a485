"""Liveness and readiness answers for load balancers and kubelet probes: no login, no data.

Answered ahead of every other middleware on purpose: a probe addresses the pod by its IP, which
is not in ALLOWED_HOSTS, and arrives over plain http inside the cluster, where the HTTPS
redirect would send it away.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

LIVENESS_PATH = "/healthz"  # the process serves requests
READINESS_PATH = "/readyz"  # ...and reaches its database


def _plain(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(f"{text}\n", content_type="text/plain", status=status)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


class HealthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path not in (LIVENESS_PATH, READINESS_PATH):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return _plain("method not allowed", 405)
        if request.path == READINESS_PATH and not database_reachable():
            return _plain("database unreachable", 503)
        return _plain("ok")
