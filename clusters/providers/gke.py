"""GKE: the Cluster resource (node pools included) from the official client, over REST.

`google-cloud-container`'s ClusterManagerClient, REST transport, `get_cluster` on
`projects/P/locations/L/clusters/C`, converted back to the REST JSON (camelCase, defaults
omitted): the same document `gcloud container clusters describe --format=json` prints and a
bundle's gke-cluster.json holds. `fetchClusterUpgradeInfo` (GKE's own patch target and
end-of-support dates) is read beside it when the credentials may; without it the patching
checks fall back to upstream's calendar.

Credentials: a service-account key, or the worker's application default credentials. For a
key, google-auth signs its own JWT for the API (no token exchange); a key is still stored only
if its token_uri is RAMPART_GKE_TOKEN_URI, so a key cannot point the worker's signed assertion
elsewhere should a client library exchange it. The role needed is Kubernetes Engine Cluster
Viewer (container.clusters.get). RAMPART_GKE_API_ENDPOINT overrides the endpoint (a private
endpoint, a test fake).
"""

from __future__ import annotations

import json
from typing import Any

import google.auth
from django.conf import settings
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials
from google.cloud import container_v1
from google.oauth2 import service_account
from requests import exceptions as http_exceptions

from clusters import crypto
from clusters.inventory import JSON
from clusters.providers import ProviderError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_KEY_FIELDS = ("type", "client_email", "private_key", "token_uri")
# What a stored key may hold; anything else (a user credential, an external account config
# that would run a command or read a file) is refused.
KEY_TYPE = "service_account"


class KeyRejected(ValueError):
    """A service-account key that cannot be stored; the message never quotes the key."""


def key_checked(text: str) -> tuple[dict[str, Any], str]:
    """(the key's fields, its client_email) for a Google service-account key JSON."""
    try:
        info = json.loads(text)
    except ValueError:
        raise KeyRejected("the key is not JSON: paste the service-account key file") from None
    if not isinstance(info, dict):
        raise KeyRejected("the key is not a JSON object")
    if info.get("type") != KEY_TYPE:
        raise KeyRejected(
            f'the key\'s type is {info.get("type")!r}; only "service_account" keys are accepted'
        )
    missing = [name for name in _KEY_FIELDS if not info.get(name)]
    if missing:
        raise KeyRejected(f"the key lacks {', '.join(missing)}")
    if info["token_uri"] != settings.RAMPART_GKE_TOKEN_URI:
        raise KeyRejected(
            f"the key's token_uri is {info['token_uri']!r}; only "
            f"{settings.RAMPART_GKE_TOKEN_URI!r} is accepted (RAMPART_GKE_TOKEN_URI)"
        )
    try:
        service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, TypeError) as exc:
        raise KeyRejected(f"the key cannot be read: {type(exc).__name__}") from None
    return info, str(info["client_email"])


def _credentials(link: Any) -> Credentials:
    if link.credentials_kind == "ambient":
        try:
            found, _ = google.auth.default(scopes=SCOPES)
        except auth_exceptions.DefaultCredentialsError as exc:
            raise ProviderError(
                f"the worker has no Google application default credentials: {exc}"
            ) from None
        return found
    info = json.loads(crypto.decrypt(bytes(link.credentials)))
    if info.get("token_uri") != settings.RAMPART_GKE_TOKEN_URI:
        raise ProviderError(
            "the stored key's token_uri is not RAMPART_GKE_TOKEN_URI any more; store the key again"
        )
    key: Credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    return key


def _client(credentials: Credentials) -> container_v1.ClusterManagerClient:
    endpoint = settings.RAMPART_GKE_API_ENDPOINT or None
    return container_v1.ClusterManagerClient(
        credentials=credentials,
        transport="rest",
        client_options=ClientOptions(api_endpoint=endpoint),
    )


def _as_rest_json(message: Any) -> JSON:
    """The proto-plus message as the REST API sends it: camelCase, enum names, no defaults."""
    text = type(message).to_json(
        message,
        preserving_proto_field_name=False,
        use_integers_for_enums=False,
        always_print_fields_with_no_presence=False,
        indent=None,
    )
    document: JSON = json.loads(text)
    return document


def _without_url(message: str) -> str:
    """The REST transport prefixes `GET https://...?$alt=...: `; the reason is what follows."""
    method, _, rest = message.partition(" ")
    if method in ("GET", "POST") and ": " in rest:
        return rest.split(": ", 1)[1]
    return message


def _reason(exc: BaseException, target: str) -> ProviderError:
    denied = (
        api_exceptions.PermissionDenied,
        api_exceptions.Unauthenticated,
        api_exceptions.Forbidden,
        api_exceptions.Unauthorized,
    )
    if isinstance(exc, denied):
        return ProviderError(
            f"GKE refused to describe {target} ({exc.code} {type(exc).__name__}: "
            f"{_without_url(exc.message)}): the "
            "credentials need container.clusters.get (Kubernetes Engine Cluster Viewer)",
            forbidden=True,
        )
    if isinstance(exc, api_exceptions.NotFound):
        return ProviderError(f"GKE has no cluster {target} (404): check project, location, name")
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return ProviderError(f"GKE API error for {target}: {exc.code} {_without_url(exc.message)}")
    if isinstance(exc, auth_exceptions.RefreshError):
        return ProviderError(
            f"could not get a Google access token for the stored key ({type(exc).__name__}: "
            f"{exc.args[0] if exc.args else ''})",
            forbidden=True,
        )
    if isinstance(exc, auth_exceptions.TransportError | http_exceptions.RequestException):
        return ProviderError(f"the GKE API is unreachable: {type(exc).__name__}: {exc}")
    return ProviderError(f"reading {target} failed: {type(exc).__name__}: {exc}")


class GkeSource:
    def fetch(self, link: Any, *, timeout: float) -> JSON:
        target = link.target
        try:
            client = _client(_credentials(link))
            cluster = client.get_cluster(name=target, timeout=timeout, retry=None)
            document = _as_rest_json(cluster)
            extras: JSON = {}
            try:
                info = client.fetch_cluster_upgrade_info(name=target, timeout=timeout, retry=None)
            except (api_exceptions.GoogleAPICallError, http_exceptions.RequestException):
                pass  # optional evidence: the patching checks fall back to upstream's calendar
            else:
                extras["upgradeInfo"] = _as_rest_json(info)
        except ProviderError:
            raise
        except (
            api_exceptions.GoogleAPICallError,
            auth_exceptions.GoogleAuthError,
            http_exceptions.RequestException,
        ) as exc:
            raise _reason(exc, target) from None
        return {"cluster": document, **extras}


SOURCE = GkeSource()
