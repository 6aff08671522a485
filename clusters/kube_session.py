"""How Rampart connects to one API server, for the length of one collection.

The official client's ApiClient, configured from stored Credentials: certificate files in a
private temporary directory that is deleted on exit, the server's address resolved once and
checked (clusters/addresses.py) so a rebinding DNS answer cannot redirect the connection, one
quick connect retry, and every request bounded in time and size (clusters/kube_http.py).
clusters/kube.py, the one module that reads Kubernetes, asks for its sessions here; the errors
a person sees about connecting are defined here and re-exported there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import urllib3
from kubernetes.client import ApiClient, Configuration

from clusters.addresses import AddressRefused, AddressUnresolved, literal_address, server_addresses
from clusters.inventory import Shared
from clusters.kube_http import Deadline, Limits, Response, Transport
from clusters.kubeconfig import Credentials, KubeconfigError
from clusters.kubeconfig_fields import check_token


class KubeError(Exception):
    """Kubernetes could not be collected; the message is meant for a person."""


class Unreachable(KubeError):
    """The API server could not be reached (refused, DNS, timeout, 5xx): worth retrying later."""


class Unauthorized(KubeError):
    """The API server rejected the credentials (401): retrying will not help."""


class ServerRefused(KubeError):
    """The server's address is one Rampart never connects to (clusters/addresses.py)."""


class Session:
    """One ApiClient and the secrets it needs, for the length of one collection."""

    def __init__(
        self,
        client: ApiClient,
        credentials: Credentials,
        timeout: float,
        limits: Limits,
        deadline: Deadline,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.timeout = timeout
        self.limits = limits
        self.shared = Shared()  # equal values across this collection's objects, held once
        # Each request bounded in time and size (clusters/kube_http.py).
        self.http = Transport(
            client, timeout=timeout, limits=limits, deadline=deadline, scrub=self.scrub
        )

    def get(self, path: str, query: list[tuple[str, str | int]] | None = None) -> Response:
        return self.http.get(path, query)

    def scrub(self, text: str) -> str:
        token = self.credentials.token
        return text.replace(token, "***") if token else text


@contextmanager
def session(
    credentials: Credentials,
    timeout: float,
    limits: Limits | None = None,
    deadline: Deadline | None = None,
) -> Iterator[Session]:
    """An ApiClient whose certificate files live in a private temp dir for its lifetime.

    The client only accepts file paths for the CA and client key; the directory is 0700 and
    deleted on exit, so key material does not outlive the collection.
    """
    with tempfile.TemporaryDirectory(prefix="rampart-kube-") as tmp:
        try:
            configuration = _configuration(credentials, Path(tmp))
            host_header = _pin_server_address(configuration, credentials)
        except KubeconfigError as exc:
            raise KubeError(f"the stored credentials are unusable: {exc}") from None
        except AddressRefused as exc:
            raise ServerRefused(f"refused to connect: {exc}") from None
        except AddressUnresolved as exc:
            raise Unreachable(
                f"cannot reach the API server at {credentials.server}: {exc}"
            ) from None
        client = ApiClient(configuration)
        client.user_agent = "rampart"
        if host_header:
            client.set_default_header("Host", host_header)
        try:
            limits = limits or Limits()
            deadline = deadline or Deadline(limits.collection_deadline)
            yield Session(client, credentials, timeout, limits, deadline)
        finally:
            client.close()


def _configuration(credentials: Credentials, tmp: Path) -> Configuration:
    configuration = Configuration(host=credentials.server)
    if credentials.token:
        # Stored before registration checked tokens: a newline would reach the HTTP layer,
        # whose error quotes the whole header.
        check_token(credentials.token, "the stored token (register the cluster again)")
        configuration.api_key = {"BearerToken": credentials.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    configuration.verify_ssl = not credentials.insecure_skip_tls_verify
    if credentials.insecure_skip_tls_verify:
        configuration.assert_hostname = False
    if credentials.ca_pem:
        configuration.ssl_ca_cert = str(_write_secret(tmp / "ca.crt", credentials.ca_pem))
    cert, key = credentials.client_certificate_pem, credentials.client_key_pem
    if cert and key:
        configuration.cert_file = str(_write_secret(tmp / "client.crt", cert))
        configuration.key_file = str(_write_secret(tmp / "client.key", key))
    if credentials.tls_server_name:
        configuration.tls_server_name = credentials.tls_server_name
    # One quick retry for a refused or reset connect; reads are never retried because a slow
    # page would then cost several timeouts before being reported. Retry-After is honoured by
    # clusters/kube_http.py, within the request's deadline, not by urllib3.
    configuration.retries = urllib3.Retry(
        total=1, connect=1, read=False, redirect=0, status=0, respect_retry_after_header=False
    )
    return configuration


def _pin_server_address(configuration: Configuration, credentials: Credentials) -> str | None:
    """Resolve the server once, check every address, and point the client at the checked one.

    Connecting by name would let urllib3 resolve it again, and a rebinding DNS server could
    answer 169.254.169.254 the second time. So the URL gets the checked IP, while TLS still
    sends the name (SNI) and verifies the certificate against it (assert_hostname), and the
    Host header still names it, as kubectl would send them. Returns that Host header, or None
    when the server is already an IP literal and nothing changes.
    """
    parts = urlsplit(credentials.server)
    if "@" in parts.netloc:  # stored before registration refused user:password@ in URLs
        raise KubeconfigError("the server URL holds a user name or password; register it again")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = server_addresses(host, port)[0]
    if literal_address(host) is not None:
        return None
    netloc = f"[{address}]" if ":" in address else address
    configuration.host = urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))
    if parts.scheme == "https":
        server_name = credentials.tls_server_name or host
        configuration.tls_server_name = server_name
        if not credentials.insecure_skip_tls_verify:
            # urllib3 takes the name to match; the client's annotation says only bool.
            configuration.assert_hostname = server_name  # type: ignore[assignment]
    return parts.netloc


def _write_secret(path: Path, data: bytes) -> Path:
    path.touch(mode=0o600)
    path.write_bytes(data)
    return path
