"""The one module that talks to Kubernetes: Credentials in, plain data (an Inventory) out.

Lists are fetched as raw JSON pages through the official client's transport and parsed with
orjson, never deserialised into the client's model classes: a 10,000-pod cluster would cost
gigabytes and minutes that way. Each page is trimmed item by item and dropped before the next
one is fetched, so memory grows with what checks keep, not with what the API sends.

Failures are sorted by who can act on them: an unreachable server is transient (`Unreachable`,
the task retries); rejected credentials fail the run (`Unauthorized`); a kind the credentials
may not list, that is not served, or that failed, is recorded on the Inventory and collection
goes on, so its checks become `unknown` rather than passing.

Tokens never appear in messages or logs: messages are built from status codes and Status
bodies, and any error text that reaches a person is scrubbed of the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from clusters.inventory import JSON, Inventory, KindStatus, gc_paused, trim
from clusters.kube_http import Deadline, Limits, not_json, wrong_kind
from clusters.kube_http import Response as _Response
from clusters.kube_http import TransportError as _TransportError
from clusters.kube_session import KubeError, ServerRefused, Unauthorized, Unreachable
from clusters.kube_session import Session as _Session
from clusters.kube_session import session as _session
from clusters.kubeconfig import Credentials
from clusters.resources import RESOURCES, Resource
from clusters.shapes import partial_reason, split_valid

logger = logging.getLogger(__name__)

# The errors of connecting are defined with the session; callers meet them here.
__all__ = [
    "ConnectionReport",
    "KubeBenchLogs",
    "KubeError",
    "ServerRefused",
    "Unauthorized",
    "Unreachable",
    "collect",
    "kube_bench_logs",
    "probe_anonymous",
    "test_connection",
]

ANONYMOUS_PATHS = ("/version", "/api")
# An expired continue token means the list changed faster than we paged through it; starting
# over usually succeeds, but a cluster churning that fast must not keep us looping forever.
MAX_LIST_RESTARTS = 3
Progress = Callable[[str], None]
_REJECTED = "error: credentials rejected (401)"


@dataclass
class ConnectionReport:
    """What a "test connection" button shows: can we connect, and what may we list."""

    ok: bool
    version: str | None = None
    error: str | None = None
    # resource key -> "ok" | "forbidden" | "not_served" | "error: <reason>"
    resources: dict[str, str] = field(default_factory=dict)
    anonymous_probe: dict[str, int] | None = None


class _KindFailed(Exception):
    def __init__(self, status: KindStatus, reason: str, *, http_status: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.http_status = http_status


def collect(
    credentials: Credentials,
    *,
    page_size: int = 500,
    timeout: float = 30,
    progress: Progress | None = None,
    resources: Iterable[Resource] = RESOURCES,
    limits: Limits | None = None,
) -> Inventory:
    """List every resource cluster-wide. Raises Unreachable / Unauthorized / KubeError.

    Within `limits.collection_deadline`: a kind not read by then is an error, never empty.
    """
    report = progress or _no_progress
    limits = limits or Limits()
    deadline = Deadline(limits.collection_deadline)
    inventory = Inventory(source=f"api {credentials.server}")
    with _session(credentials, timeout, limits, deadline) as session, gc_paused():
        report("reading the server version")
        inventory.version = _version(session)
        rejected: list[str] = []
        attempted = 0
        served = _Discovery(session)
        for resource in resources:
            if not served.may_serve(resource):
                inventory.set_missing(
                    resource.key, KindStatus.NOT_SERVED, _not_discovered(resource)
                )
                continue
            attempted += 1
            report(f"listing {resource.key}")
            dropped: list[str] = []
            try:
                items = _list_all(
                    session, resource, page_size=page_size, progress=report, dropped=dropped
                )
            except _KindFailed as failed:
                if failed.http_status == 401:
                    rejected.append(resource.key)
                inventory.set_missing(resource.key, failed.status, failed.reason)
                logger.info("%s %s: %s", credentials.server, resource.key, failed.reason)
                continue
            inventory.set_objects(resource.key, items)
            if dropped:
                total = len(items) + len(dropped)
                inventory.mark_partial(
                    resource.key, partial_reason(resource.key, dropped, total=total)
                )
        if attempted and len(rejected) == attempted:
            raise Unauthorized(
                f"the API server at {credentials.server} rejected the credentials (401) for "
                "every resource; the token or certificate may have expired or been revoked"
            )
    report("probing anonymous access")
    inventory.anonymous_probe = probe_anonymous(
        credentials, timeout=timeout, limits=limits, deadline=deadline
    )
    return inventory


def probe_anonymous(
    credentials: Credentials,
    *,
    timeout: float = 10,
    limits: Limits | None = None,
    deadline: Deadline | None = None,
) -> dict[str, int] | None:
    """Status codes of unauthenticated GETs, with the same CA and TLS settings; None if unreachable.

    The same transport as `collect()` is used with every credential removed, so what we
    observe is what anyone on the network would get.
    """
    anonymous = replace(credentials, token=None, client_certificate_data=None, client_key_data=None)
    codes: dict[str, int] = {}
    try:
        with _session(anonymous, timeout, limits, deadline) as session:
            for path in ANONYMOUS_PATHS:
                codes[path] = session.get(path).status
    except _TransportError as exc:
        logger.info("anonymous probe of %s failed: %s", credentials.server, exc.reason)
        return None
    except KubeError as exc:  # the address was refused or stopped resolving since collect()
        logger.info("anonymous probe of %s failed: %s", credentials.server, exc)
        return None
    return codes


def test_connection(
    credentials: Credentials, *, timeout: float = 10, limits: Limits | None = None
) -> ConnectionReport:
    """Check the credentials and what they may list, one item per resource.

    A person waits on the answer: unless told otherwise, the whole test gets a minute.
    """
    limits = limits or Limits(collection_deadline=60)
    deadline = Deadline(limits.collection_deadline)
    try:
        with _session(credentials, timeout, limits, deadline) as session:
            version = _version(session)
            served = _Discovery(session)
            resources = {
                r.key: _probe_kind(session, r)
                if served.may_serve(r)
                else str(KindStatus.NOT_SERVED)
                for r in RESOURCES
            }
    except KubeError as exc:
        return ConnectionReport(ok=False, error=str(exc))
    report = ConnectionReport(
        ok=True,
        version=(version or {}).get("gitVersion"),
        resources=resources,
        anonymous_probe=probe_anonymous(
            credentials, timeout=timeout, limits=limits, deadline=deadline
        ),
    )
    if resources and all(status == _REJECTED for status in resources.values()):
        report.ok = False
        report.error = f"the API server at {credentials.server} rejected the credentials (401)"
    return report


# pytest would otherwise collect `test_connection` wherever a test module imports it by name.
test_connection.__test__ = False  # type: ignore[attr-defined]


def _version(session: _Session) -> JSON | None:
    server = session.credentials.server
    try:
        response = session.get("/version")
    except _TransportError as exc:
        if exc.transient:
            raise Unreachable(f"cannot reach the API server at {server}: {exc.reason}") from None
        raise KubeError(f"cannot connect securely to {server}: {exc.reason}") from None
    if response.status == 401:
        raise Unauthorized(
            f"the API server at {server} rejected the credentials (401 Unauthorized): "
            f"{session.scrub(_status_message(response))}"
        )
    if response.status >= 500:
        raise Unreachable(
            f"the API server at {server} is unavailable: GET /version answered "
            f"{response.status} ({session.scrub(_status_message(response))})"
        )
    if response.status == 403:
        # Hardened clusters may remove system:public-info-viewer; the lists still work.
        logger.info("%s: GET /version is forbidden; the version stays unknown", server)
        return None
    if response.status != 200:
        raise KubeError(
            f"{server} does not look like a Kubernetes API server: GET /version answered "
            f"{response.status}"
        )
    try:
        version = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        version = None
    if not isinstance(version, dict) or "gitVersion" not in version:
        raise KubeError(
            f"{server} does not look like a Kubernetes API server: /version is not version JSON"
        )
    return version


class _Discovery:
    """Which optional API groups the server serves, read from `GET /apis` once, when first asked.

    Add-ons (Cilium, Calico, Trivy) are listed only when discovery names their group/version, so
    an absent add-on costs no request and is "not served" rather than an error. When discovery
    cannot be read (forbidden, failed), every resource is tried and a 404 says not served.
    """

    def __init__(self, session: _Session) -> None:
        self._session = session
        self._group_versions: frozenset[str] | None = None
        self._asked = False

    def may_serve(self, resource: Resource) -> bool:
        if not resource.optional or not resource.group:
            return True
        if not self._asked:
            self._asked = True
            self._group_versions = _served_group_versions(self._session)
        return self._group_versions is None or resource.api_version in self._group_versions


def _served_group_versions(session: _Session) -> frozenset[str] | None:
    try:
        response = session.get("/apis")
    except _TransportError as exc:
        logger.info("%s: API discovery failed: %s", session.credentials.server, exc.reason)
        return None
    if response.status != 200:
        logger.info("%s: GET /apis answered %s", session.credentials.server, response.status)
        return None
    try:
        groups = orjson.loads(response.body).get("groups")
        return frozenset(
            str(version["groupVersion"]) for group in groups for version in group["versions"]
        )
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        logger.info("%s: GET /apis is not an APIGroupList", session.credentials.server)
        return None


def _not_discovered(resource: Resource) -> str:
    return (
        f"{resource.api_version} {resource.plural} is an add-on that is not installed "
        "(its API group is not in the server's discovery)"
    )


def _list_all(
    session: _Session,
    resource: Resource,
    *,
    page_size: int,
    progress: Progress,
    dropped: list[str],
) -> list[JSON]:
    """Every valid item of one kind; `dropped` receives one line per malformed item."""
    for attempt in range(MAX_LIST_RESTARTS + 1):
        if attempt:
            progress(f"listing {resource.key}: continue token expired, starting over")
        dropped.clear()
        items = _list_pages(
            session, resource, page_size=page_size, progress=progress, dropped=dropped
        )
        if items is not None:
            return items
    raise _KindFailed(
        KindStatus.ERROR,
        f"the list changed faster than it could be paged: the continue token expired "
        f"{MAX_LIST_RESTARTS + 1} times",
        http_status=410,
    )


def _list_pages(
    session: _Session,
    resource: Resource,
    *,
    page_size: int,
    progress: Progress,
    dropped: list[str],
) -> list[JSON] | None:
    """All valid items of one kind, trimmed; None when the continue token expired (410 Gone).

    An item that does not fit the shape checks read is left out and named in `dropped`.
    """
    key = resource.key
    items: list[JSON] = []
    token: str | None = None
    seen_tokens: set[str] = set()
    for _page in range(session.limits.max_pages):
        query: list[tuple[str, str | int]] = [("limit", page_size)]
        if token:
            query.append(("continue", token))
        try:
            response = session.get(resource.list_path(), query)
        except _TransportError as exc:
            raise _KindFailed(KindStatus.ERROR, exc.reason) from None
        if response.status == 410:
            return None
        if response.status != 200:
            raise _kind_failure(session, resource, response)
        page_items, token = _parse_page(response.body, resource, response.headers)
        del response  # the raw page is the biggest thing alive; let it go before trimming
        valid, problems = split_valid(key, page_items)
        dropped.extend(problems)
        items.extend(trim(key, item, session.shared) for item in valid)
        del page_items, valid
        if not token:
            progress(f"listed {key}: {len(items)}")
            return items
        if token in seen_tokens:  # a server answering the same page forever
            raise _KindFailed(KindStatus.ERROR, "the server repeated a continue token; not read")
        seen_tokens.add(token)
        progress(f"listing {key}: {len(items)} so far")
    raise _KindFailed(
        KindStatus.ERROR,
        f"gave up after {session.limits.max_pages:,} pages of {page_size}: the list never "
        "ended (RAMPART_KUBE_MAX_PAGES)",
    )


def _parse_page(
    body: bytes, resource: Resource | None = None, headers: dict[str, str] | None = None
) -> tuple[list[JSON], str | None]:
    try:
        page = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _KindFailed(KindStatus.ERROR, not_json(body, headers, exc)) from None
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise _KindFailed(KindStatus.ERROR, "malformed response: not a list with items")
    if resource is not None and (wrong := wrong_kind(page, resource)) is not None:
        raise _KindFailed(KindStatus.ERROR, wrong)
    items: list[Any] = page["items"]
    if not all(isinstance(item, dict) for item in items):
        raise _KindFailed(KindStatus.ERROR, "malformed response: an item is not an object")
    metadata = page.get("metadata")
    token = metadata.get("continue") if isinstance(metadata, dict) else None
    return items, token or None


def _kind_failure(session: _Session, resource: Resource, response: _Response) -> _KindFailed:
    message = session.scrub(_status_message(response))
    status = response.status
    if status == 401:
        return _KindFailed(
            KindStatus.FORBIDDEN, f"credentials rejected (401): {message}", http_status=401
        )
    if status == 403:
        return _KindFailed(KindStatus.FORBIDDEN, message, http_status=403)
    if status == 404 and not resource.optional:
        # Every API server serves the built-in kinds: a 404 is a proxy or a broken server, and
        # calling it "not served" would let the run pass as complete.
        return _KindFailed(
            KindStatus.NOT_COLLECTED,
            f"{resource.api_version} {resource.plural} answered 404 Not Found, though every "
            "Kubernetes API server serves it",
            http_status=404,
        )
    if status == 404:
        return _KindFailed(
            KindStatus.NOT_SERVED,
            f"{resource.api_version} {resource.plural} is an add-on that is not installed (404)",
            http_status=404,
        )
    return _KindFailed(KindStatus.ERROR, f"HTTP {status}: {message}", http_status=status)


def _probe_kind(session: _Session, resource: Resource) -> str:
    try:
        response = session.get(resource.list_path(), [("limit", 1)])
    except _TransportError as exc:
        return f"error: {exc.reason}"
    if response.status == 200:
        try:
            _parse_page(response.body, resource, response.headers)
        except _KindFailed as malformed:
            return f"error: {malformed.reason}"
        return "ok"
    if response.status == 401:
        return _REJECTED
    failure = _kind_failure(session, resource, response)
    if failure.status == KindStatus.ERROR:
        return f"error: {failure.reason}"
    return str(failure.status)


def _status_message(response: _Response) -> str:
    """The `message` of a Kubernetes Status body, else a short excerpt of whatever came back."""
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    excerpt = response.body[:200].decode("utf-8", "replace").strip()
    return excerpt or f"HTTP {response.status} with an empty body"


def _no_progress(message: str) -> None:
    pass


# --- kube-bench results from the latest kube-bench Job's pod logs ---------------------------


@dataclass
class KubeBenchLogs:
    """What the latest kube-bench Job's pods printed: node name -> log bytes, or why none.

    `status` is None when logs were read; otherwise FORBIDDEN (the reader may not list Jobs or
    read pod logs there), NOT_COLLECTED (no kube-bench Job ran) or ERROR, with `reason`.
    """

    job: str = ""
    logs: dict[str, bytes] = field(default_factory=dict)
    status: KindStatus | None = None
    reason: str = ""


def kube_bench_logs(
    credentials: Credentials, *, namespace: str, timeout: float = 30, limit_bytes: int
) -> KubeBenchLogs:
    """The logs of the newest Job named kube-bench* in `namespace`, one per node its pods ran
    on (`kube-bench run --json` prints its JSON there). Raises Unreachable/KubeError like
    `collect`; a refusal or an absent Job is returned, never raised: the Kubernetes part of a
    collection never fails for it."""
    base = f"/api/v1/namespaces/{namespace}"
    with _session(credentials, timeout) as session:
        try:
            jobs = _namespaced_list(session, f"/apis/batch/v1/namespaces/{namespace}/jobs")
            named = [j for j in jobs if str(_meta(j).get("name", "")).startswith("kube-bench")]
            if not named:
                return KubeBenchLogs(
                    status=KindStatus.NOT_COLLECTED,
                    reason=f"no kube-bench Job in namespace {namespace}",
                )
            job = max(named, key=lambda j: str(_meta(j).get("creationTimestamp", "")))
            name = str(_meta(job)["name"])
            selector: list[tuple[str, str | int]] = [("labelSelector", f"job-name={name}")]
            pods = _namespaced_list(session, f"{base}/pods", selector)
            found = KubeBenchLogs(job=name)
            for pod in sorted(pods, key=lambda p: str(_meta(p).get("creationTimestamp", ""))):
                node = str((pod.get("spec") or {}).get("nodeName") or "")
                if not node or (pod.get("status") or {}).get("phase") != "Succeeded":
                    continue  # a pod still running, or failed, printed no complete result
                path = f"{base}/pods/{_meta(pod).get('name', '')}/log"
                response = session.get(path, [("limitBytes", limit_bytes + 1)])
                if response.status != 200:
                    raise _KindFailed(*_log_failure(session, response))
                found.logs[node] = response.body  # the newest pod per node wins
        except _KindFailed as failed:
            return KubeBenchLogs(status=failed.status, reason=failed.reason)
        except _TransportError as exc:
            return KubeBenchLogs(status=KindStatus.ERROR, reason=exc.reason)
    if not found.logs:
        return KubeBenchLogs(
            job=name,
            status=KindStatus.NOT_COLLECTED,
            reason=f"Job {namespace}/{name} has no succeeded pod to read results from",
        )
    return found


def _meta(obj: JSON) -> JSON:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _namespaced_list(
    session: _Session, path: str, query: list[tuple[str, str | int]] | None = None
) -> list[JSON]:
    response = session.get(path, [("limit", 500), *(query or [])])
    if response.status != 200:
        raise _KindFailed(*_log_failure(session, response))
    items, _ = _parse_page(response.body)
    return items


def _log_failure(session: _Session, response: _Response) -> tuple[KindStatus, str]:
    message = session.scrub(_status_message(response))
    if response.status in (401, 403):
        return KindStatus.FORBIDDEN, message
    if response.status == 404:  # the namespace's Jobs or a pod gone: nothing ran there now
        return KindStatus.NOT_COLLECTED, f"not found (404): {message}"
    return KindStatus.ERROR, f"HTTP {response.status}: {message}"
