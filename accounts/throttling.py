"""Who is trying to log in, as django-axes counts failures, and what a locked-out person sees."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's, or the one the trusted proxies recorded.

    Each proxy appends the address it received the request from to X-Forwarded-For, so behind
    RAMPART_PROXY_COUNT proxies the client is that many entries from the right; anything further
    left was written by the client and proves nothing.
    """
    count = settings.RAMPART_PROXY_COUNT
    if count:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= count:
            return hops[-count]
    return str(request.META.get("REMOTE_ADDR", ""))


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The styled lockout page, with the cool-off in minutes, as HTTP 429."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cool_off_minutes": minutes,
    }
    return render(request, "registration/locked_out.html", context, status=429)
