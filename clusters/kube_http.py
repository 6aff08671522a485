"""Bounded reads from a Kubernetes API server, for clusters/kube.py (which alone calls this).

A socket timeout bounds each read, not a response: a server trickling one byte a second, or
streaming a chunked body forever, never trips it. So every request here also has an overall
deadline, enforced two ways: the body is read in pieces with the clock checked between them,
and a watchdog shuts the request's sockets down when the deadline passes, which also ends a
stalled TLS handshake or trickled headers. A body is capped in size (a declared length over
the cap is refused before reading; a stream stops at the cap), so memory is bounded whatever
the server sends. 429 and 503 are retried as the server's `Retry-After` asks, within the
deadline, and every failure becomes one line meant for a person: no traceback, no credential.

The limits come from settings (RAMPART_KUBE_*; see config/settings.py and the README); tests
shrink them so that each fault mode resolves in about a second.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3 import HTTPConnectionPool, HTTPResponse, PoolManager
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.ssl_match_hostname import CertificateError

from clusters.resources import Resource

Query = list[tuple[str, str | int]]
# Statuses that mean "not now": the server's Retry-After is honoured within the deadline.
RETRIED_STATUSES = frozenset({429, 503})
_READ_SIZE = 64 * 1024
_MAX_REASON = 300


@dataclass(frozen=True)
class Limits:
    """How much one collection may cost; the defaults are the settings' defaults."""

    request_deadline: float = 120.0  # one request: connect, headers, body and retries
    collection_deadline: float = 1200.0  # every request of one collection
    max_pages: int = 1000  # pages of one list (continue tokens followed)
    max_response_bytes: int = 128 * 1024 * 1024  # one response body, decoded
    max_retry_after: float = 30.0  # the longest Retry-After waited for
    max_retries: int = 4  # 429/503 answers retried per request

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings  # this module stays importable without Django

        return cls(
            request_deadline=float(settings.RAMPART_KUBE_REQUEST_DEADLINE),
            collection_deadline=float(settings.RAMPART_KUBE_COLLECTION_DEADLINE),
            max_pages=int(settings.RAMPART_KUBE_MAX_PAGES),
            max_response_bytes=int(settings.RAMPART_KUBE_MAX_RESPONSE_BYTES),
            max_retry_after=float(settings.RAMPART_KUBE_MAX_RETRY_AFTER),
            max_retries=int(settings.RAMPART_KUBE_MAX_RETRIES),
        )


class Deadline:
    """A point in time; `seconds` says how long it was set for (for messages)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._at - time.monotonic())

    def passed(self) -> bool:
        return self.remaining() <= 0


class TransportError(Exception):
    """No usable HTTP answer. `transient` is False for what will not fix itself (TLS setup)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names


class Transport:
    """GETs through one ApiClient, each bounded by the request and the collection deadlines."""

    def __init__(
        self,
        client: ApiClient,
        *,
        timeout: float,
        limits: Limits,
        deadline: Deadline,
        scrub: Callable[[str], str],
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.limits = limits
        self.deadline = deadline  # the collection's
        self.scrub = scrub
        self.requests = 0
        self._watchdog = _Watchdog(client.rest_client.pool_manager)

    def get(self, path: str, query: Query | None = None) -> Response:
        if self.deadline.passed():
            raise TransportError(
                f"not read: the collection deadline ({self.deadline.seconds:g}s) had passed",
                transient=False,
            )
        retries = 0
        while True:
            request = Deadline(min(self.limits.request_deadline, self.deadline.remaining()))
            response = self._once(path, query, request)
            if response.status not in RETRIED_STATUSES or retries >= self.limits.max_retries:
                return response
            # Waiting is bounded twice: each wait, and the collection it would run past.
            wait = retry_after(response.headers.get("retry-after"))
            if wait > self.limits.max_retry_after:
                raise TransportError(
                    f"HTTP {response.status}: the server asked to retry after {wait:g}s, more "
                    f"than the {self.limits.max_retry_after:g}s waited for "
                    "(RAMPART_KUBE_MAX_RETRY_AFTER)",
                    transient=True,
                )
            if wait >= self.deadline.remaining():
                raise TransportError(
                    f"HTTP {response.status}: the server asked to retry after {wait:g}s, past "
                    f"the collection deadline ({self.deadline.seconds:g}s)",
                    transient=True,
                )
            time.sleep(wait)
            retries += 1

    def _once(self, path: str, query: Query | None, request: Deadline) -> Response:
        method, url, headers, body, post_params = self.client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query or None,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        budget = request.remaining()
        socket_timeout = max(0.01, min(self.timeout, budget))
        self.requests += 1
        try:
            with self._watchdog.armed(budget):
                answer = self.client.call_api(
                    method,
                    url,
                    headers,
                    body,
                    post_params,
                    _request_timeout=(socket_timeout, socket_timeout),
                )
                raw: HTTPResponse = answer.response
                data = self._read(raw, request)
        except TransportError:
            raise
        except (HTTPError, ApiException, ssl.SSLError, OSError, http.client.HTTPException) as exc:
            if self._watchdog.fired:
                raise self._too_slow(request) from None
            reason = self.scrub(describe(exc, self.timeout))
            raise TransportError(reason, transient=not tls_misconfiguration(exc)) from None
        if self._watchdog.fired:  # what was read when the sockets were shut is cut short
            raise self._too_slow(request)
        return Response(raw.status, data, {k.lower(): v for k, v in raw.headers.items()})

    def _too_slow(self, request: Deadline) -> TransportError:
        return TransportError(
            f"gave up after {request.seconds:g}s: the server answered too slowly "
            "(request deadline)",
            transient=True,
        )

    def _read(self, raw: HTTPResponse, request: Deadline) -> bytes:
        """The body, read in pieces: stops at the size cap or the deadline, never buffers more."""
        cap = self.limits.max_response_bytes
        complete = False
        try:
            declared = _declared_length(raw)
            if declared is not None and declared > cap:
                raise TransportError(
                    _too_large(f"declares {declared:,} bytes, more", cap), transient=False
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                if self._watchdog.fired:
                    raise self._too_slow(request)
                if request.passed():
                    raise TransportError(
                        f"gave up after {request.seconds:g}s: the response was still arriving "
                        f"({size:,} bytes read; request deadline)",
                        transient=True,
                    )
                chunk = raw.read1(_READ_SIZE)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise TransportError(_too_large("is larger", cap), transient=False)
                chunks.append(chunk)
            complete = True
            return b"".join(chunks)
        finally:
            if not complete:
                raw.close()  # unread bytes would poison the pooled connection
            raw.release_conn()


def retry_after(value: str | None) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); 1 if absent."""
    if not value:
        return 1.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, when.timestamp() - time.time())


def _declared_length(raw: HTTPResponse) -> int | None:
    value = raw.headers.get("Content-Length")
    return int(value) if value and value.strip().isdigit() else None


def _too_large(what: str, cap: int) -> str:
    return (
        f"the response {what} than the {cap:,}-byte limit (RAMPART_KUBE_MAX_RESPONSE_BYTES); "
        "not read. A smaller RAMPART_KUBE_PAGE_SIZE makes pages smaller"
    )


class _Watchdog:
    """Shuts down the sockets of one pool manager when a request's deadline passes.

    The pool classes are swapped for subclasses that remember each connection they open, so
    the sockets are at hand even while urllib3 is still connecting or reading headers.
    """

    def __init__(self, manager: PoolManager) -> None:
        self.fired = False
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._timer: threading.Timer | None = None
        # Subclasses of the manager's own classes, so a proxy manager's pools stay its own.
        manager.pool_classes_by_scheme = {
            scheme: _watched(pool, self._connections)
            for scheme, pool in manager.pool_classes_by_scheme.items()
        }

    @contextmanager
    def armed(self, seconds: float) -> Iterator[None]:
        self.fired = False
        timer = threading.Timer(max(0.0, seconds), self._fire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _fire(self) -> None:
        self.fired = True
        for connection in list(self._connections):
            sock = getattr(connection, "sock", None)
            if sock is not None:
                # The plain socket's shutdown, also for an SSLSocket: it wakes a blocked read
                # in the other thread without touching the TLS state that read is using.
                with suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(base: type[HTTPConnectionPool], connections: weakref.WeakSet[Any]) -> type:
    class Watched(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> Any:
            connection = super()._new_conn()
            connections.add(connection)
            return connection

    Watched.__name__ = Watched.__qualname__ = base.__name__  # its repr is in urllib3's errors
    return Watched


# Errors into one line for a person


def describe(exc: BaseException, timeout: float) -> str:
    """One line saying what went wrong, without the layers' noise (pools, retries, C files)."""
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _certificate_reason(cause)
        if isinstance(cause, CertificateError):
            return f"the server's certificate does not match its name ({_one_line(cause)})"
    for cause in causes:
        if isinstance(cause, NameResolutionError):
            return f"DNS lookup failed for {cause.conn.host}"
        if isinstance(cause, NewConnectionError):
            return f"connection failed ({_errno_text(cause)})"
        if isinstance(cause, Urllib3Timeout | TimeoutError | socket.timeout):
            return f"timed out after {timeout:g}s"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {_ssl_text(cause)}"
    for cause in causes:
        if isinstance(cause, http.client.IncompleteRead):
            return f"the connection was dropped mid-response ({len(cause.partial):,} bytes read" + (
                f", {cause.expected:,} more expected)" if cause.expected else ")"
            )
        if isinstance(cause, http.client.BadStatusLine | http.client.LineTooLong):
            return f"the server did not answer HTTP ({_one_line(cause)})"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return "the connection was reset by the server"
        if isinstance(cause, http.client.RemoteDisconnected):
            return "the server closed the connection without answering"
    if isinstance(exc, ProtocolError):
        return f"the connection was dropped: {_one_line(exc)}"
    if isinstance(exc, ApiException):
        return _one_line(str(exc.reason or exc))
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        return _one_line(exc.reason)
    return _one_line(f"{type(exc).__name__}: {exc}")


def tls_misconfiguration(exc: BaseException) -> bool:
    """An untrusted certificate or a non-TLS port will not fix itself; a dropped handshake may."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError | CertificateError):
            return True
        if isinstance(cause, ssl.SSLError):
            text = str(cause)
            return not any(sign in text for sign in ("EOF", "reset", "timed out"))
    return False


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: urllib3's `reason`, `__cause__`, `__context__`, args."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__]
        nested.extend(current.args)
        pending.extend(item for item in nested if isinstance(item, BaseException))


_CERTIFICATE_REASONS = {  # OpenSSL's X509_V_ERR_* codes
    7: "the server's certificate is not signed by the CA in the kubeconfig",
    9: "the server's certificate is not valid yet",
    10: "the server's certificate has expired",
    18: "the server's certificate is self-signed and not the cluster's CA",
    19: "the server's certificate chain ends in a CA the kubeconfig does not trust",
    20: "the server's certificate is not signed by the CA in the kubeconfig",
    21: "the server's certificate is not signed by the CA in the kubeconfig",
    62: "the server's certificate does not name the host it was reached by",
    64: "the server's certificate does not name the address it was reached by",
}


def _certificate_reason(exc: ssl.SSLCertVerificationError) -> str:
    message = _one_line(exc.verify_message or "") or _ssl_text(exc)
    known = _CERTIFICATE_REASONS.get(exc.verify_code)
    if known:
        return f"{known} (certificate verify failed: {message})"
    return f"the server's certificate was not accepted (certificate verify failed: {message})"


def _ssl_text(exc: ssl.SSLError) -> str:
    text = str(exc.args[1]) if len(exc.args) > 1 and isinstance(exc.args[1], str) else str(exc)
    return _one_line(re.sub(r"\s*\(_ssl\.c:\d+\)", "", text))


def _errno_text(exc: NewConnectionError) -> str:
    text = str(exc)
    return _one_line(text.split("]", 1)[-1].strip() if "]" in text else text)


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


# Bodies that are not what a list answers


def not_json(body: bytes, headers: dict[str, str] | None, exc: Exception) -> str:
    """Why a body is not JSON, naming what it is when the server said (an HTML login page)."""
    content_type = (headers or {}).get("content-type", "").split(";")[0].strip()
    if content_type and "json" not in content_type:
        return f"malformed response: {_one_line(content_type)[:60]}, not JSON"
    if not body:
        return "malformed response: an empty body, not JSON"
    return f"malformed response (not JSON): {_one_line(exc)}"


def wrong_kind(page: dict[str, Any], resource: Resource) -> str | None:
    """Why a list page holds something other than `resource`'s objects, if it does."""
    expected = f"{resource.kind}List"
    kind = page.get("kind")
    if kind is not None and kind not in (expected, "List"):
        return f"malformed response: expected a {expected}, got {_one_line(kind)[:60]}"
    for item in page["items"]:
        item_kind = item.get("kind") if isinstance(item, dict) else None
        if item_kind is not None and item_kind != resource.kind:
            return f"malformed response: a {expected} holding a {_one_line(item_kind)[:60]}"
    return None
