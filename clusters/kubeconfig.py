"""Kubeconfig parsing and validation: text in, `Credentials` out, no network and no files.

A kubeconfig is uploaded by a person and later used by a worker. Anything in it that would make
the worker run a command (`exec`, `auth-provider`) or read a local file (`tokenFile`,
`certificate-authority`, `client-key`, ...) is refused here, at registration, so a cluster can
never be used to execute code or exfiltrate files from the worker. Only inline credentials
survive: a bearer token or client certificate data, plus the CA data.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

IN_CLUSTER_ROOT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER_CONTEXT = "in-cluster"
_LOOPBACK_NAMES = {"localhost"}
# Keys that hand control to something outside the kubeconfig: a command, a plugin or a file.
_COMMAND_KEYS = ("exec", "auth-provider")
_FILE_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")
_NEVER_MESSAGE = "registering a cluster must never run a command or read a file on the worker"


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message is meant for the person who uploaded it."""


@dataclass(frozen=True)
class Credentials:
    """Everything needed to reach one API server. Secrets stay out of `repr()` and logs."""

    server: str
    ca_data: str | None = None  # base64 PEM, as in `certificate-authority-data`
    token: str | None = field(default=None, repr=False)
    client_certificate_data: str | None = field(default=None, repr=False)
    client_key_data: str | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    context: str = ""
    tls_server_name: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> Credentials:
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise KubeconfigError(f"stored credentials are not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise KubeconfigError("stored credentials are not a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise KubeconfigError(f"stored credentials have unknown fields: {', '.join(unknown)}")
        if not isinstance(raw.get("server"), str):
            raise KubeconfigError("stored credentials lack a server URL")
        return cls(**raw)

    @property
    def ca_pem(self) -> bytes | None:
        return _b64decode(self.ca_data, "certificate-authority-data") if self.ca_data else None

    @property
    def client_certificate_pem(self) -> bytes | None:
        data = self.client_certificate_data
        return _b64decode(data, "client-certificate-data") if data else None

    @property
    def client_key_pem(self) -> bytes | None:
        data = self.client_key_data
        return _b64decode(data, "client-key-data") if data else None


def list_contexts(text: str) -> list[str]:
    """Context names in file order, for a form that lets the user pick one."""
    config = _load(text)
    return [name for name, _ in _named_entries(config, "contexts", "context")]


def parse_kubeconfig(
    text: str, *, context: str | None = None, allow_exec: bool = False
) -> Credentials:
    """Credentials of `context` (default: current-context), refusing commands and files."""
    config = _load(text)
    contexts = dict(_named_entries(config, "contexts", "context"))
    if not contexts:
        raise KubeconfigError("the kubeconfig defines no contexts")
    name = context or config.get("current-context")
    if not name:
        if len(contexts) == 1:
            name = next(iter(contexts))
        else:
            raise KubeconfigError(
                f"the kubeconfig has no current-context; choose one of: {_names(contexts)}"
            )
    if name not in contexts:
        raise KubeconfigError(f"no context named {name!r}; available: {_names(contexts)}")
    entry = contexts[name]
    cluster_name, user_name = entry.get("cluster"), entry.get("user")
    if not cluster_name:
        raise KubeconfigError(f"context {name!r} names no cluster")
    if not user_name:
        raise KubeconfigError(f"context {name!r} names no user")
    cluster = _lookup(config, "clusters", "cluster", cluster_name, name)
    user = _lookup(config, "users", "user", user_name, name)
    _refuse_outside_references(cluster, f"cluster {cluster_name!r}", allow_exec=allow_exec)
    _refuse_outside_references(user, f"user {user_name!r}", allow_exec=allow_exec)
    return Credentials(
        server=_server(cluster, cluster_name),
        context=str(name),
        ca_data=_optional_b64(cluster, "certificate-authority-data", "CERTIFICATE"),
        insecure_skip_tls_verify=_bool(cluster, "insecure-skip-tls-verify"),
        tls_server_name=_optional_str(cluster, "tls-server-name"),
        **_user_credentials(user, user_name),
    )


def in_cluster_credentials(
    root: Path = IN_CLUSTER_ROOT, env: Mapping[str, str] = os.environ
) -> Credentials:
    """The pod's own service-account identity (reading its mounted files is the point here)."""
    host = env.get("KUBERNETES_SERVICE_HOST")
    port = env.get("KUBERNETES_SERVICE_PORT")
    token_path, ca_path = root / "token", root / "ca.crt"
    if not host or not port:
        raise KubeconfigError(
            "not running inside a Kubernetes pod: KUBERNETES_SERVICE_HOST/PORT are not set"
        )
    if not token_path.is_file():
        raise KubeconfigError(
            f"not running inside a Kubernetes pod: no service-account token at {token_path}"
        )
    token = token_path.read_text().strip()
    if not token:
        raise KubeconfigError(f"the service-account token at {token_path} is empty")
    ca_data = base64.b64encode(ca_path.read_bytes()).decode() if ca_path.is_file() else None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 service address
    return Credentials(
        server=f"https://{host}:{port}",
        context=IN_CLUSTER_CONTEXT,
        ca_data=ca_data,
        token=token,
    )


def _load(text: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # The parser's message quotes the offending line, which may hold a token: say where only.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise KubeconfigError(f"the kubeconfig is not valid YAML{where}: {problem}") from None
    if not isinstance(config, dict):
        raise KubeconfigError("the kubeconfig is not a YAML mapping of clusters, users, contexts")
    return config


def _named_entries(config: dict[str, Any], section: str, body: str) -> list[tuple[str, Any]]:
    entries = config.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"`{section}` must be a list")
    named: list[tuple[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise KubeconfigError(f"every entry of `{section}` needs a name")
        value = entry.get(body) or {}
        if not isinstance(value, dict):
            raise KubeconfigError(f"{section} entry {entry['name']!r}: `{body}` must be a mapping")
        named.append((str(entry["name"]), value))
    return named


def _lookup(config: dict[str, Any], section: str, body: str, name: str, context: str) -> Any:
    entries = dict(_named_entries(config, section, body))
    if name not in entries:
        raise KubeconfigError(f"context {context!r} refers to {body} {name!r}, which is undefined")
    return entries[name]


def _names(entries: Mapping[str, Any]) -> str:
    return ", ".join(sorted(entries))


def _refuse_outside_references(entry: dict[str, Any], where: str, *, allow_exec: bool) -> None:
    for key in entry:
        is_command = key in _COMMAND_KEYS
        is_file = key in _FILE_KEYS or key.endswith(("-file", "File"))
        if not (is_command or is_file):
            continue
        what = "runs a command" if is_command else "reads a file"
        if not allow_exec:
            raise KubeconfigError(
                f"{where} uses `{key}`, which {what}; refused: {_NEVER_MESSAGE}. "
                "Use a service-account token or inline *-data fields instead."
            )
        raise KubeconfigError(
            f"{where} uses `{key}`, which {what}. Even where an administrator allows such "
            "kubeconfigs, Rampart does not run credential plugins or read files: replace it with "
            "a service-account token or inline *-data fields."
        )


def _server(cluster: dict[str, Any], cluster_name: str) -> str:
    server = cluster.get("server")
    if not server or not isinstance(server, str):
        raise KubeconfigError(f"cluster {cluster_name!r} has no server URL")
    if "proxy-url" in cluster:
        raise KubeconfigError(f"cluster {cluster_name!r} uses `proxy-url`, which is not supported")
    parts = urlsplit(server.strip())
    if not parts.hostname:
        raise KubeconfigError(f"cluster {cluster_name!r}: {server!r} is not a URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise KubeconfigError(
            f"cluster {cluster_name!r}: the server must use https ({server!r} would send the "
            "credentials in clear text); plain http is only accepted for localhost"
        )
    if parts.scheme not in ("http", "https"):
        raise KubeconfigError(f"cluster {cluster_name!r}: the server must be an https:// URL")
    return server.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _user_credentials(user: dict[str, Any], user_name: str) -> dict[str, str | None]:
    where = f"user {user_name!r}"
    if "username" in user or "password" in user:
        raise KubeconfigError(
            f"{where} uses basic authentication (username/password), which Kubernetes removed "
            "in 1.19; use a service-account token or a client certificate"
        )
    for field_name in ("as", "as-uid", "as-groups", "as-user-extra"):
        if field_name in user:
            raise KubeconfigError(
                f"{where} uses impersonation (`{field_name}`), which is not supported"
            )
    token = _optional_str(user, "token")
    cert = _optional_b64(user, "client-certificate-data", "CERTIFICATE")
    key = _optional_b64(user, "client-key-data", "PRIVATE KEY")
    if bool(cert) != bool(key):
        raise KubeconfigError(
            f"{where} needs both client-certificate-data and client-key-data, or neither"
        )
    if not token and not cert:
        raise KubeconfigError(
            f"{where} has no usable credential: expected `token` or "
            "`client-certificate-data` with `client-key-data`"
        )
    return {"token": token, "client_certificate_data": cert, "client_key_data": key}


def _optional_str(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise KubeconfigError(f"`{key}` must be a string")
    return value.strip()


def _bool(entry: dict[str, Any], key: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise KubeconfigError(f"`{key}` must be true or false")
    return value


def _optional_b64(entry: dict[str, Any], key: str, pem_label: str) -> str | None:
    """Validate now so a bad paste fails at registration, not at the first collection."""
    value = _optional_str(entry, key)
    if value is None:
        return None
    value = "".join(value.split())
    if pem_label.encode() not in _b64decode(value, key):
        raise KubeconfigError(f"`{key}` does not decode to a PEM {pem_label.lower()}")
    return value


def _b64decode(value: str, key: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KubeconfigError(f"`{key}` is not valid base64: {exc}") from exc
