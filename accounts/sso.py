"""Optional single sign-on over OpenID Connect (mozilla-django-oidc), off unless
RAMPART_OIDC_ENABLED.

The library runs the authorization-code flow (state, nonce, PKCE), exchanges the code, checks
the ID token's signature against the provider's JWKS and reads userinfo. On top of it Rampart
checks that the token was issued for this client (and by RAMPART_OIDC_ISSUER when set), finds
the account by the provider's subject rather than by email, and recomputes the role from the
groups claim at every sign-in (accounts.services.sso_sign_in). Any refusal becomes one line on
the login page and one warning in the log, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from accounts.services import sso_sign_in

logger = logging.getLogger(__name__)


def _enabled() -> None:
    if not settings.RAMPART_OIDC_ENABLED:
        raise Http404("Single sign-on is not enabled.")


class SsoBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if not settings.RAMPART_OIDC_ENABLED:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, requests.RequestException, jwt.PyJWTError, KeyError) as exc:
            logger.warning("single sign-on refused: %s: %s", type(exc).__name__, exc)
            return None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if "nonce" not in kwargs:
            return payload  # a signed userinfo response, not the ID token
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token was issued for another client")
        issuer = settings.RAMPART_OIDC_ISSUER
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation(f"the ID token was issued by {payload.get('iss')!r}")
        if not isinstance(payload.get("sub"), str) or not payload["sub"]:
            raise SuspiciousOperation("the ID token names no subject")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(userinfo, dict):
            raise SuspiciousOperation("userinfo is not a JSON object")
        subject = payload["sub"]
        if userinfo.get("sub", subject) != subject:
            raise SuspiciousOperation("userinfo describes another subject than the ID token")
        claims = {**payload, **userinfo}
        groups = claims.get(settings.RAMPART_OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        return sso_sign_in(
            issuer=str(payload.get("iss") or ""),
            subject=subject,
            username=str(claims.get("preferred_username") or ""),
            email=str(claims.get("email") or ""),
            groups=[group for group in groups if isinstance(group, str)],
        )

    def get_user(self, user_id: int) -> Any:
        # The library's own get_user would keep a deactivated account's session alive.
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


@method_decorator(login_not_required, name="dispatch")
class SsoStartView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Sends the browser to the provider, with state, nonce and a PKCE challenge."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _enabled()
        return super().get(request)  # type: ignore[no-any-return]


@method_decorator(login_not_required, name="dispatch")
class SsoCallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """Where the provider sends the browser back with a code."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _enabled()
        return super().get(request)  # type: ignore[no-any-return]

    def login_failure(self) -> HttpResponse:
        messages.error(
            self.request,
            "Single sign-on did not sign you in. Try again, or ask an administrator.",
        )
        return redirect("login")
