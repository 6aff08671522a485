"""Kubeconfig parsing and validation: text in, `Credentials` out, no network and no files.

A kubeconfig is uploaded by a person and later used by a worker. Anything in it that would make
the worker run a command (`exec`, `auth-provider`) or read a local file (`tokenFile`,
`certificate-authority`, `client-key`, ...) is refused here, at registration, so a cluster can
never be used to execute code or exfiltrate files from the worker. Only inline credentials
survive: a bearer token or client certificate data, plus the CA data.

Parsing is strict because what is accepted here is stored, shown and sent: UTF-8 only, bounded
in size, depth and aliases, no duplicate keys or names, every field of the expected type,
tokens and URLs free of control characters (refused, never stripped: a token cut at a newline
would fail later with the token quoted in the error), no user:password in the server URL,
certificates and keys that really parse. Every refusal is one line that never quotes a secret.
"""

from __future__ import annotations

import base64
import codecs
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from clusters.kubeconfig_fields import KubeconfigError as KubeconfigError
from clusters.kubeconfig_fields import (
    b64decode,
    boolean,
    check_key_pair,
    check_token,
    checked_name,
    optional_pem,
    optional_str,
    server_url,
    tls_server_name,
)
from clusters.strict_yaml import StrictYamlError, load_strict

IN_CLUSTER_ROOT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER_CONTEXT = "in-cluster"
# A kubeconfig is a few kilobytes; anything much larger is not one (web form and CLI alike).
MAX_KUBECONFIG_BYTES = 512 * 1024
# Keys that hand control to something outside the kubeconfig: a command, a plugin or a file.
_COMMAND_KEYS = ("exec", "auth-provider")
_FILE_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")
_NEVER_MESSAGE = "registering a cluster must never run a command or read a file on the worker"
# The type of every field kubectl defines, checked in every entry (used or not): a list where a
# string belongs is a mistake, or an alias bomb waiting for something to print it.
_FIELD_TYPES: dict[str, dict[str, type]] = {
    "cluster": {
        "server": str,
        "certificate-authority-data": str,
        "insecure-skip-tls-verify": bool,
        "tls-server-name": str,
        "proxy-url": str,
        "disable-compression": bool,
        "extensions": list,
    },
    "user": {
        "token": str,
        "client-certificate-data": str,
        "client-key-data": str,
        "username": str,
        "password": str,
        "exec": dict,
        "auth-provider": dict,
        "extensions": list,
    },
    "context": {"cluster": str, "user": str, "namespace": str, "extensions": list},
    "top": {"preferences": dict, "extensions": list},
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


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

    def secret_values(self) -> tuple[str, ...]:
        """What must never appear in a message: for `redaction.redact(secrets=...)`."""
        password = urlsplit(self.server).password if "@" in self.server else None
        values = (self.token, self.client_key_data, self.client_certificate_data, password)
        return tuple(value for value in values if value)

    @property
    def ca_pem(self) -> bytes | None:
        return b64decode(self.ca_data, "certificate-authority-data") if self.ca_data else None

    @property
    def client_certificate_pem(self) -> bytes | None:
        data = self.client_certificate_data
        return b64decode(data, "client-certificate-data") if data else None

    @property
    def client_key_pem(self) -> bytes | None:
        data = self.client_key_data
        return b64decode(data, "client-key-data") if data else None


def decode_kubeconfig(data: bytes) -> str:
    """The text of an uploaded kubeconfig file: UTF-8 only, at most MAX_KUBECONFIG_BYTES."""
    _check_size(len(data))
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise KubeconfigError(
                f"the kubeconfig is {encoding} text; save it as UTF-8 (as kubectl writes it)"
            )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KubeconfigError(
            f"the kubeconfig is not UTF-8 text (invalid byte at offset {exc.start}); "
            "save it as UTF-8 (as kubectl writes it)"
        ) from None


def list_contexts(text: str) -> list[str]:
    """Context names in file order, for a form that lets the user pick one."""
    return list(_Kubeconfig(_load(text)).contexts)


def parse_kubeconfig(
    text: str, *, context: str | None = None, allow_exec: bool = False
) -> Credentials:
    """Credentials of `context` (default: current-context), refusing commands and files."""
    config = _Kubeconfig(_load(text))
    contexts = config.contexts
    if not contexts:
        raise KubeconfigError("the kubeconfig defines no contexts")
    name = (
        checked_name(context, "the requested context") if context else config.current_context or ""
    )
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
    cluster_name = optional_str(entry, "cluster", f"context {name!r}")
    user_name = optional_str(entry, "user", f"context {name!r}")
    if not cluster_name:
        raise KubeconfigError(f"context {name!r} names no cluster")
    if not user_name:
        raise KubeconfigError(f"context {name!r} names no user")
    cluster = _lookup(config.clusters, "cluster", cluster_name, name)
    user = _lookup(config.users, "user", user_name, name)
    cluster_where, user_where = f"cluster {cluster_name!r}", f"user {user_name!r}"
    _refuse_outside_references(cluster, cluster_where, allow_exec=allow_exec)
    _refuse_outside_references(user, user_where, allow_exec=allow_exec)
    ca_data = optional_pem(cluster, "certificate-authority-data", cluster_where)
    insecure = boolean(cluster, "insecure-skip-tls-verify", cluster_where)
    if insecure and ca_data:
        raise KubeconfigError(
            f"{cluster_where} sets both insecure-skip-tls-verify and certificate-authority-data; "
            "kubectl refuses this too: keep the CA and remove insecure-skip-tls-verify"
        )
    return Credentials(
        server=server_url(cluster, cluster_where),
        context=name,
        ca_data=ca_data,
        insecure_skip_tls_verify=insecure,
        tls_server_name=tls_server_name(cluster, cluster_where),
        **_user_credentials(user, user_where),
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
    # The kubelet writes the file; a trailing newline from a hand-made mount is not a secret.
    token = token_path.read_text().strip()
    if not token:
        raise KubeconfigError(f"the service-account token at {token_path} is empty")
    check_token(token, f"the service-account token at {token_path}")
    ca_data = base64.b64encode(ca_path.read_bytes()).decode() if ca_path.is_file() else None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 service address
    return Credentials(
        server=f"https://{host}:{port}",
        context=IN_CLUSTER_CONTEXT,
        ca_data=ca_data,
        token=token,
    )


@dataclass
class _Kubeconfig:
    """The three named sections, each name unique, with the top-level fields type-checked."""

    raw: dict[str, Any]
    clusters: dict[str, dict[str, Any]] = field(init=False)
    users: dict[str, dict[str, Any]] = field(init=False)
    contexts: dict[str, dict[str, Any]] = field(init=False)
    current_context: str | None = field(init=False)

    def __post_init__(self) -> None:
        for key in ("apiVersion", "kind"):
            optional_str(self.raw, key, "the kubeconfig")
        _check_field_types(self.raw, "top", "the kubeconfig")
        self.current_context = optional_str(self.raw, "current-context", "the kubeconfig")
        if self.current_context is not None:
            self.current_context = checked_name(self.current_context, "current-context")
        self.clusters = _named_entries(self.raw, "clusters", "cluster")
        self.users = _named_entries(self.raw, "users", "user")
        self.contexts = _named_entries(self.raw, "contexts", "context")


def _load(text: str) -> dict[str, Any]:
    _check_size(len(text.encode("utf-8", "surrogatepass")))
    if "\x00" in text:
        raise KubeconfigError(
            "the kubeconfig contains NUL characters: it is not UTF-8 text (UTF-16 or binary?)"
        )
    try:
        config = load_strict(text)
    except StrictYamlError as exc:
        raise KubeconfigError(f"the kubeconfig {exc}") from None
    if config is None:
        raise KubeconfigError("the kubeconfig is empty")
    if not isinstance(config, dict):
        raise KubeconfigError("the kubeconfig is not a YAML mapping of clusters, users, contexts")
    return config


def _check_size(size: int) -> None:
    if size > MAX_KUBECONFIG_BYTES:
        raise KubeconfigError(
            f"the kubeconfig is larger than {MAX_KUBECONFIG_BYTES:,} bytes, the most a "
            "kubeconfig may be (is this the right file?)"
        )


def _named_entries(config: dict[str, Any], section: str, body: str) -> dict[str, dict[str, Any]]:
    entries = config.get(section)
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise KubeconfigError(f"`{section}` must be a list")
    named: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise KubeconfigError(f"every entry of `{section}` needs a name (entry {index + 1})")
        name = checked_name(entry["name"], f"the name of `{section}` entry {index + 1}")
        if name in named:
            raise KubeconfigError(
                f"`{section}` defines {name!r} twice; the second would silently replace the first"
            )
        value = entry.get(body)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise KubeconfigError(f"{section} entry {name!r}: `{body}` must be a mapping")
        _check_field_types(value, body, f"{body} {name!r}")
        named[name] = value
    return named


def _check_field_types(entry: dict[str, Any], body: str, where: str) -> None:
    for key, expected in _FIELD_TYPES[body].items():
        value = entry.get(key)
        if value is not None and value != "" and type(value) is not expected:
            wanted = {str: "a string", bool: "true or false", list: "a list", dict: "a mapping"}
            raise KubeconfigError(f"{where}: `{key}` must be {wanted[expected]}")


def _lookup(
    entries: dict[str, dict[str, Any]], body: str, name: str, context: str
) -> dict[str, Any]:
    if name not in entries:
        raise KubeconfigError(f"context {context!r} refers to {body} {name!r}, which is undefined")
    return entries[name]


def _names(entries: Mapping[str, Any], limit: int = 20) -> str:
    names = sorted(entries)
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


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


def _user_credentials(user: dict[str, Any], where: str) -> dict[str, str | None]:
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
    token = optional_str(user, "token", where)
    if token is not None:
        check_token(token, f"the `token` of {where}")
    cert = optional_pem(user, "client-certificate-data", where)
    key = optional_pem(user, "client-key-data", where)
    if bool(cert) != bool(key):
        raise KubeconfigError(
            f"{where} needs both client-certificate-data and client-key-data, or neither"
        )
    if cert and key:
        check_key_pair(cert, key, where)
    if not token and not cert:
        raise KubeconfigError(
            f"{where} has no usable credential: expected `token` or "
            "`client-certificate-data` with `client-key-data`"
        )
    return {"token": token, "client_certificate_data": cert, "client_key_data": key}
