"""One kubeconfig field at a time: names, the server URL, tokens and PEM data.

Each validator returns the value as given (nothing is stripped: a token cut at a newline
would fail later with the token quoted in the error) or raises KubeconfigError with one line
that never quotes a secret.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

# Names are shown on pages and stored (Cluster.context_name is 200 characters).
MAX_NAME_LENGTH = 200
MAX_SERVER_LENGTH = 300  # Cluster.api_server
MAX_TOKEN_LENGTH = 16 * 1024  # a large OIDC JWT is ~4 KiB; API servers cap headers near 1 MiB
_LOOPBACK_NAMES = {"localhost"}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HOST_NAME = re.compile(
    r"(?i)^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
    r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message is meant for the person who uploaded it.

    Always one line: a message is shown in a form, printed by a command and stored.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split())[:1000])


def checked_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise KubeconfigError(f"{what} must be a string, not {_type_name(value)}")
    if not value:
        raise KubeconfigError(f"{what} is empty")
    if len(value) > MAX_NAME_LENGTH:
        raise KubeconfigError(f"{what} is {len(value):,} characters; at most {MAX_NAME_LENGTH}")
    if CONTROL_CHARACTERS.search(value):
        raise KubeconfigError(f"{what} contains a line break or control character")
    return value


def server_url(cluster: dict[str, Any], where: str) -> str:
    """The cluster's server URL, validated; refusals never quote it (it may carry a password)."""
    server = optional_str(cluster, "server", where)
    if not server:
        raise KubeconfigError(f"{where} has no server URL")
    if "proxy-url" in cluster:
        raise KubeconfigError(f"{where} uses `proxy-url`, which is not supported")
    if len(server) > MAX_SERVER_LENGTH:
        raise KubeconfigError(f"{where}: the server URL is longer than {MAX_SERVER_LENGTH}")
    # Checked before urlsplit, which silently deletes tabs, CR and LF from URLs.
    if CONTROL_CHARACTERS.search(server) or server != server.strip() or " " in server:
        raise KubeconfigError(
            f"{where}: the server URL contains a space, line break or control character"
        )
    if not server.isascii():
        raise KubeconfigError(f"{where}: the server URL must be ASCII (write names in punycode)")
    try:
        parts = urlsplit(server)
    except ValueError:  # an unbalanced or invalid [IPv6] literal
        raise KubeconfigError(f"{where}: the server is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise KubeconfigError(f"{where}: the server must be an https:// URL")
    if "@" in parts.netloc:
        raise KubeconfigError(
            f"{where}: the server URL carries a user name or password (user:pass@host); "
            "it would be stored and shown as the cluster's address. Remove it: Rampart "
            "authenticates with the user's token or client certificate"
        )
    if parts.query or parts.fragment:
        raise KubeconfigError(f"{where}: the server URL must not have a ?query or #fragment")
    host = parts.hostname
    if not host:
        raise KubeconfigError(f"{where}: the server is not a URL")
    try:
        port = parts.port
    except ValueError:  # out of 0-65535, or not a number
        port = 0
    after_host = parts.netloc.rpartition("]")[2] if "[" in parts.netloc else parts.netloc
    if port == 0 or (port is None and after_host.endswith(":")):
        raise KubeconfigError(f"{where}: the server's port must be a number from 1 to 65535")
    if not _is_host(host, bracketed="[" in parts.netloc):
        raise KubeconfigError(f"{where}: the server's host is not a valid name or IP address")
    if parts.scheme == "http" and not _is_loopback(host):
        raise KubeconfigError(
            f"{where}: the server must use https (plain http would send the credentials in "
            "clear text); plain http is only accepted for localhost"
        )
    return server.rstrip("/")


def _is_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            return ipaddress.ip_address(host.partition("%")[0]).version == 6
        except ValueError:
            return False
    return bool(_HOST_NAME.match(host))


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_server_name(cluster: dict[str, Any], where: str) -> str | None:
    name = optional_str(cluster, "tls-server-name", where)
    if name is not None and not _HOST_NAME.match(name):
        raise KubeconfigError(f"{where}: `tls-server-name` is not a host name")
    return name


def check_token(token: str, what: str) -> None:
    """A bearer token goes into an HTTP header as is: refuse what would break or smuggle one."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise KubeconfigError(f"{what} is {len(token):,} characters; at most {MAX_TOKEN_LENGTH:,}")
    if "\x00" in token:
        raise KubeconfigError(f"{what} contains a NUL character")
    if "\r" in token or "\n" in token:
        raise KubeconfigError(
            f"{what} contains a line break (a YAML block scalar such as `token: |` keeps one); "
            "write the token on one line"
        )
    if CONTROL_CHARACTERS.search(token):
        raise KubeconfigError(f"{what} contains a control character")
    if " " in token:
        raise KubeconfigError(f"{what} contains a space; a bearer token never does")
    if not token.isascii():
        raise KubeconfigError(
            f"{what} contains characters outside ASCII; a bearer token never does"
        )


def optional_str(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise KubeconfigError(f"{where}: `{key}` must be a string, not {_type_name(value)}")
    return value


def boolean(entry: dict[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise KubeconfigError(f"{where}: `{key}` must be true or false")
    return value


_PEM_KINDS = {
    "certificate-authority-data": "a PEM certificate",
    "client-certificate-data": "a PEM certificate",
    "client-key-data": "a PEM private key",
}


def optional_pem(entry: dict[str, Any], key: str, where: str) -> str | None:
    """Base64 PEM data that really parses, so a bad paste fails now, not at collection."""
    value = optional_str(entry, key, where)
    if value is None:
        return None
    # Base64 may be wrapped over lines (YAML folds long scalars); nothing else is allowed.
    value = "".join(value.split())
    if CONTROL_CHARACTERS.search(value):
        raise KubeconfigError(f"{where}: `{key}` contains a control character")
    pem = b64decode(value, key, where)
    expected = _PEM_KINDS[key]
    try:
        if key == "client-key-data":
            serialization.load_pem_private_key(pem, password=None)
        elif not x509.load_pem_x509_certificates(pem):
            raise ValueError("no certificate")
    except TypeError:
        raise KubeconfigError(
            f"{where}: `{key}` is an encrypted key; kubectl cannot use it either: "
            "decrypt it (openssl pkey) and paste it again"
        ) from None
    except (ValueError, NotImplementedError):
        raise KubeconfigError(f"{where}: `{key}` does not decode to {expected}") from None
    return value


def check_key_pair(cert_data: str, key_data: str, where: str) -> None:
    certificate = x509.load_pem_x509_certificates(b64decode(cert_data, "client-certificate-data"))[
        0
    ]
    key = serialization.load_pem_private_key(b64decode(key_data, "client-key-data"), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if certificate.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise KubeconfigError(f"{where}: client-key-data is not the key of client-certificate-data")


def b64decode(value: str, key: str, where: str = "") -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        prefix = f"{where}: " if where else ""
        raise KubeconfigError(f"{prefix}`{key}` is not valid base64") from None


def _type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        bool: "true/false",
        int: "a number",
        float: "a number",
        bytes: "binary data",
    }.get(type(value), type(value).__name__)
