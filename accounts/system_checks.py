"""Single sign-on configuration mistakes, as Django system checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

REQUIRED = {
    "RAMPART_OIDC_CLIENT_ID": "OIDC_RP_CLIENT_ID",
    "RAMPART_OIDC_CLIENT_SECRET": "OIDC_RP_CLIENT_SECRET",
    "RAMPART_OIDC_AUTHORIZATION_ENDPOINT": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "RAMPART_OIDC_TOKEN_ENDPOINT": "OIDC_OP_TOKEN_ENDPOINT",
    "RAMPART_OIDC_USERINFO_ENDPOINT": "OIDC_OP_USER_ENDPOINT",
    "RAMPART_OIDC_JWKS_ENDPOINT": "OIDC_OP_JWKS_ENDPOINT",
}


@register(Tags.security)
def check_sso_settings(app_configs: Any, **kwargs: Any) -> list[Error]:
    if not settings.RAMPART_OIDC_ENABLED:
        return []
    missing = [variable for variable, name in REQUIRED.items() if not getattr(settings, name)]
    if not missing:
        return []
    return [
        Error(
            "RAMPART_OIDC_ENABLED is true but " + ", ".join(missing) + " is not set.",
            hint="Copy them from the provider's /.well-known/openid-configuration.",
            id="rampart.E101",
        )
    ]


@register(Tags.security, deploy=True)
def check_sso_endpoints_use_https(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if not settings.RAMPART_OIDC_ENABLED:
        return []
    plain = [
        variable
        for variable, name in REQUIRED.items()
        if name.startswith("OIDC_OP_") and urlsplit(getattr(settings, name)).scheme != "https"
    ]
    if not plain:
        return []
    return [
        Warning(
            ", ".join(plain) + " do not use https: tokens would cross the network in the clear.",
            id="rampart.W101",
        )
    ]
