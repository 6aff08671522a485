"""Single sign-on through a real OpenID Connect exchange with a fake provider on 127.0.0.1:
the library's own code flow (state, nonce, PKCE), ID token signature against the JWKS,
userinfo, and Rampart's group -> role mapping recomputed at every sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.models import SsoIdentity
from accounts.roles import ADMIN, AUDITOR, SECURITY_ENGINEER, user_role
from accounts.services import user_create
from accounts.tests.fakeoidc import CLIENT_SECRET, FakeOidcProvider

pytestmark = pytest.mark.django_db

GROUP_ROLES = {"admins": "admin", "secops": "security_engineer", "audit": "auditor"}


@pytest.fixture
def provider(settings):
    with FakeOidcProvider() as provider:
        for name, value in provider.settings().items():
            setattr(settings, name, value)
        settings.RAMPART_OIDC_GROUP_ROLES = GROUP_ROLES
        provider.people["alice"] = {
            "sub": "00u-alice-1234",
            "email": "alice@example.com",
            "preferred_username": "alice",
            "groups": ["secops", "everyone"],
        }
        provider.signing_in = "alice"
        yield provider


def sign_in(client: Client, provider: FakeOidcProvider, *, next_url: str = ""):
    """The browser's round trip: Rampart -> provider (real HTTP) -> Rampart's callback."""
    start = client.get(reverse("sso_start"), {"next": next_url} if next_url else {})
    assert start.status_code == 302
    assert start["Location"].startswith(f"{provider.url}/authorize?")
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == reverse("sso_callback")
    return client.get(f"{back.path}?{back.query}")


def signed_in_user(client: Client):
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def test_it_offers_no_sso_when_it_is_off(client):
    assert "Sign in with SSO" not in client.get(reverse("login")).content.decode()
    assert client.get(reverse("sso_start")).status_code == 404
    assert client.get(reverse("sso_callback"), {"code": "x", "state": "y"}).status_code == 404


def test_it_offers_sso_on_the_login_page_when_enabled(client, provider):
    html = client.get(reverse("login")).content.decode()

    assert "Sign in with SSO" in html
    assert f'href="{reverse("sso_start")}"' in html


def test_it_signs_in_through_the_provider_with_the_mapped_role(client, provider):
    response = sign_in(client, provider, next_url="/trends/")

    assert response.status_code == 302
    assert response["Location"] == "/trends/"
    user = signed_in_user(client)
    assert user is not None and user.username == "alice"
    assert user.email == "alice@example.com"
    assert user_role(user) == SECURITY_ENGINEER
    assert not user.has_usable_password()
    assert SsoIdentity.objects.get(user=user).subject == "00u-alice-1234"
    assert client.get(reverse("fleet")).status_code == 200
    # The code was exchanged with the client secret and the PKCE verifier.
    (exchange,) = provider.token_requests
    assert exchange["client_secret"] == CLIENT_SECRET
    assert len(exchange["code_verifier"]) >= 43


def test_it_recomputes_the_role_at_every_sign_in(provider):
    journey = [
        (["secops"], SECURITY_ENGINEER, False),
        (["audit", "everyone"], AUDITOR, False),
        (["audit", "admins"], ADMIN, True),
        (["everyone"], "", False),
    ]
    for groups, role, is_staff in journey:
        provider.people["alice"]["groups"] = groups
        client = Client()
        assert sign_in(client, provider).status_code == 302
        user = signed_in_user(client)
        assert user is not None, groups
        assert user_role(user) == role, groups
        assert user.is_staff is is_staff, groups
    assert get_user_model().objects.count() == 1
    # Signed in, with no role: sees nothing.
    assert client.get(reverse("fleet")).status_code == 403


def test_it_gives_no_role_to_someone_in_no_mapped_group(client, provider):
    provider.people["bob"] = {"sub": "00u-bob", "email": "bob@example.com", "groups": ["sales"]}
    provider.signing_in = "bob"

    sign_in(client, provider)

    user = signed_in_user(client)
    assert user is not None and user_role(user) == ""
    assert client.get(reverse("fleet")).status_code == 403


def test_it_never_signs_into_a_local_account_by_email(client, provider):
    ada, _ = user_create(username="ada", email="ada@example.com", role=ADMIN)
    provider.people["mallory"] = {
        "sub": "00u-mallory",
        "email": "ada@example.com",
        "preferred_username": "ada",
        "groups": [],
    }
    provider.signing_in = "mallory"

    sign_in(client, provider)

    user = signed_in_user(client)
    assert user is not None and user.pk != ada.pk
    assert user.username == "ada-sso"
    assert user_role(user) == ""


@pytest.mark.parametrize("tamper", ["audience", "issuer", "key", "expired", "nonce", "token-error"])
def test_it_refuses_a_token_it_cannot_trust(client, provider, tamper, caplog):
    provider.tamper = tamper

    response = sign_in(client, provider)

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
    assert not get_user_model().objects.exists()
    page = client.get(reverse("login")).content.decode()
    assert "Single sign-on did not sign you in" in page
    assert "Traceback" not in caplog.text


def test_it_refuses_a_deactivated_account(client, provider):
    sign_in(Client(), provider)
    get_user_model().objects.filter(username="alice").update(is_active=False)

    response = sign_in(client, provider)

    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None
