"""A small fake Kubernetes API server, so the live source is tested over real HTTP.

It serves list responses shaped exactly like `kubectl get --raw` (items without kind and
apiVersion, opaque continue tokens, Status bodies on errors) from plain dicts or an evidence
bundle, with bearer-token auth and switches for the failures collection must survive: 403s,
500s, slow pages, expired continue tokens, kinds that are not served.

Discovery (`/apis`, `/apis/<group>`, `/apis/<group>/<version>`, in fakeapi_discovery.py)
answers as a real server does: built-in groups always, an add-on's group (Cilium, Calico,
Trivy) only when the fake holds its objects or was told to fail listing them, i.e. when its
CRD would be installed.

Items are serialised once per kind on first use and pages are byte joins of those, so serving
50,000 pods costs about what the JSON weighs, and the source dicts are released afterwards.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from clusters.bundles import ERRORS_FILE, recorded_errors, resource_key
from clusters.inventory import KindStatus
from clusters.kubeconfig import Credentials
from clusters.resources import RESOURCES, Resource
from clusters.tests.fakeapi_discovery import api_group_list, api_versions, discovery_document

if TYPE_CHECKING:
    # A fault answers a request itself (clusters/tests/fakefaults.py); False: answer normally.
    Fault = Callable[[BaseHTTPRequestHandler, Resource | None, dict[str, str]], bool]

JSON = dict[str, Any]
DEFAULT_TOKEN = "test-token"
DEFAULT_VERSION: JSON = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4",
    "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
    "gitTreeState": "clean",
    "buildDate": "2024-12-10T18:34:53Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DEFAULT_ANONYMOUS: dict[str, int] = {"/version": 200, "/api": 403}
SERVICE_ACCOUNT = "system:serviceaccount:rampart:rampart-collector"
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results."
)
_BY_PATH: dict[str, Resource] = {resource.list_path(): resource for resource in RESOURCES}
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def status_body(code: int, message: str, *, reason: str | None = None, kind: str = "") -> bytes:
    """A `Status` as the API server sends with every failure."""
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    if kind:
        body["details"] = {"kind": kind}
    return orjson.dumps(body)


class FakeApiServer:
    """Context manager serving `objects` (resource key -> full objects) on 127.0.0.1."""

    def __init__(
        self,
        objects: Mapping[str, list[JSON]] | None = None,
        version: JSON | None = None,
        *,
        token: str | None = DEFAULT_TOKEN,
        forbidden: Iterable[str] = (),
        errors: Mapping[str, int] | None = None,
        slow: Mapping[str, float] | None = None,
        expire_continue_once: Iterable[str] = (),
        anonymous: Mapping[str, int] | None = None,
        not_served: Iterable[str] = (),
        malformed: Iterable[str] = (),
        tls: ssl.SSLContext | None = None,
        discovery_status: int = 200,
        faults: Mapping[str, Fault] | None = None,
    ) -> None:
        # A kind absent from `objects` is answered 404 rather than with an empty list: a fake
        # built from a bundle lacking pods.json must not claim the cluster has no pods.
        self._pending: dict[str, list[JSON]] = dict(objects or {})
        self._held = frozenset(self._pending)  # what discovery names (add-ons)
        self._encoded: dict[str, list[bytes]] = {}
        self.version = version if version is not None else DEFAULT_VERSION
        self.token = token
        self.forbidden = set(forbidden)
        self.errors = dict(errors or {})
        self.slow = dict(slow or {})
        self.expire_continue_once = set(expire_continue_once)
        self.anonymous = dict(DEFAULT_ANONYMOUS if anonymous is None else anonymous)
        self.not_served = set(not_served)
        self.malformed = set(malformed)  # kinds answered 200 with a truncated body
        self.tls = tls  # a server-side context: serve https, e.g. to test CAs and SNI
        self.discovery_status = discovery_status  # what GET /apis answers (e.g. 403)
        # path, resource key or "*" -> a fault answering those requests (fakefaults.py)
        self.faults = dict(faults or {})
        self.requests: list[str] = []  # "GET /api/v1/pods?limit=500", in order received
        # Exact paths answered as given (status, body): a kube-bench Job, its pods, their logs.
        self.routes: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._port: int | None = None  # kept after stop() so URLs in messages can be compared
        self._thread: threading.Thread | None = None

    @classmethod
    def from_bundle(cls, path: Path | str, **options: Any) -> FakeApiServer:
        """Serve an evidence-bundle directory; each file's kind comes from its content."""
        objects: dict[str, list[JSON]] = {}
        version: JSON | None = None
        errors_file = Path(path) / ERRORS_FILE
        if errors_file.is_file():
            # Serve what the bundle's collector met: forbidden stays forbidden over HTTP.
            for denied, (status, _) in recorded_errors(errors_file.read_bytes()).items():
                if status == KindStatus.FORBIDDEN:
                    options["forbidden"] = {*options.get("forbidden", ()), denied}
        for file in sorted(Path(path).glob("*.json")):
            document = orjson.loads(file.read_bytes())
            if not isinstance(document, dict):
                continue
            if "gitVersion" in document:
                version = document
                continue
            key = resource_key(file.name, document)
            if key is None:
                continue  # provider data (gke-cluster.json) or a kind Rampart does not collect
            items = document["items"] if isinstance(document.get("items"), list) else [document]
            objects.setdefault(key, []).extend(items)
        options.setdefault("version", version)
        server = cls(objects, **options)
        # The bundle's kube-bench/<node>.json, as the pod logs of a finished kube-bench Job.
        runs = {f.stem: f.read_bytes() for f in sorted(Path(path).glob("kube-bench/*.json"))}
        if runs:
            server.serve_kube_bench(runs)
        return server

    # Lifecycle

    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake API server was never started")
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # Client-side helpers

    def kubeconfig(self, token: str | None = None, *, context: str = "fake") -> str:
        user_token = token or self.token or "no-token-needed"
        return (
            "apiVersion: v1\n"
            "kind: Config\n"
            f"current-context: {context}\n"
            "clusters:\n"
            f"- name: {context}\n"
            f"  cluster:\n    server: {self.url}\n"
            "users:\n"
            f"- name: {context}\n"
            f"  user:\n    token: {user_token}\n"
            "contexts:\n"
            f"- name: {context}\n"
            f"  context:\n    cluster: {context}\n    user: {context}\n"
        )

    def credentials(self, token: str | None = None) -> Credentials:
        return Credentials(server=self.url, token=token or self.token, context="fake")

    # Serving

    def encoded_items(self, key: str) -> list[bytes] | None:
        with self._lock:
            if key not in self._encoded:
                if key not in self._pending:
                    return None
                self._encoded[key] = [_encode_item(item) for item in self._pending.pop(key)]
            return self._encoded[key]

    def put(self, key: str, item: JSON) -> None:
        """An object appears on the cluster (a pod scheduled, a binding created): the next list
        of `key` returns it too."""
        with self._lock:
            if key in self._encoded:
                self._encoded[key].append(_encode_item(item))
            else:
                self._pending.setdefault(key, []).append(item)

    def serves(self, resource: Resource) -> bool:
        """Whether discovery names this resource: an add-on only when it is installed here."""
        key = resource.key
        if key in self.not_served:
            return False
        if not resource.optional:
            return True
        return key in self._held or key in self.forbidden | self.malformed | set(self.errors)

    def serve_kube_bench(
        self,
        runs: Mapping[str, bytes],
        *,
        namespace: str = "kube-bench",
        job: str = "kube-bench",
        forbidden: bool = False,
    ) -> None:
        """A finished kube-bench Job whose pods (one per node in `runs`) printed `runs[node]`,
        as the Job controller labels them (`job-name`); `forbidden`: the reader may not list
        Jobs there (403, as RBAC answers)."""
        jobs_path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        if forbidden:
            message = (
                f'jobs.batch is forbidden: User "{SERVICE_ACCOUNT}" cannot list resource "jobs" '
                f'in API group "batch" in the namespace "{namespace}"'
            )
            self.routes[jobs_path] = (403, status_body(403, message, kind="jobs"))
            return
        created = "2026-11-25T09:00:00Z"
        job_object = {
            "metadata": {"name": job, "namespace": namespace, "creationTimestamp": created},
            "status": {"succeeded": len(runs)},
        }
        older = {"metadata": {"name": f"{job}-old", "creationTimestamp": "2026-01-01T00:00:00Z"}}
        self.routes[jobs_path] = (
            200,
            orjson.dumps({"kind": "JobList", "items": [older, job_object]}),
        )
        pods = []
        for index, (node, log) in enumerate(sorted(runs.items())):
            pod = f"{job}-{index}abcd"
            pods.append(
                {
                    "metadata": {
                        "name": pod,
                        "namespace": namespace,
                        "labels": {"job-name": job},
                        "creationTimestamp": created,
                    },
                    "spec": {"nodeName": node},
                    "status": {"phase": "Succeeded"},
                }
            )
            self.routes[f"/api/v1/namespaces/{namespace}/pods/{pod}/log"] = (200, log)
        body = orjson.dumps({"kind": "PodList", "items": pods})
        self.routes[f"/api/v1/namespaces/{namespace}/pods"] = (200, body)

    def take_expiry(self, key: str) -> bool:
        with self._lock:
            if key in self.expire_continue_once:
                self.expire_continue_once.discard(key)
                return True
            return False

    def record(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)


def _encode_item(item: JSON) -> bytes:
    return orjson.dumps({k: v for k, v in item.items() if k not in ("kind", "apiVersion")})


def _encode_token(key: str, offset: int) -> str:
    raw = orjson.dumps({"key": key, "offset": offset, "at": time.monotonic_ns()})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, key: str) -> int | None:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("key") != key or not isinstance(raw.get("offset"), int):
        return None
    return int(raw["offset"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: pages of one list reuse a connection
    disable_nagle_algorithm = True  # headers and body are separate writes

    @property
    def fake(self) -> FakeApiServer:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.fake.record(f"GET {self.path}")
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        # The client may have given up (a timeout test): there is nobody left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(path, query)

    def _route(self, path: str, query: dict[str, str]) -> None:
        fake = self.fake
        resource = _BY_PATH.get(path)
        fault = (
            fake.faults.get(path)
            or (fake.faults.get(resource.key) if resource else None)
            or fake.faults.get("*")
        )
        if fault is not None and fault(self, resource, query):
            return
        presented = self.headers.get("Authorization")
        if presented is None and fake.token is not None and path in fake.anonymous:
            self._anonymous(path, fake.anonymous[path])
            return
        if fake.token is not None and presented != f"Bearer {fake.token}":
            self._send(401, status_body(401, "Unauthorized"))
            return
        if path == "/version":
            self._send(200, orjson.dumps(fake.version))
        elif path == "/api":
            self._send(200, api_versions())
        elif path == "/apis" and fake.discovery_status != 200:
            code = fake.discovery_status
            message = (
                f'forbidden: User "{SERVICE_ACCOUNT}" cannot get path "/apis"'
                if code == 403
                else "Internal error occurred: discovery failed"
            )
            self._send(code, status_body(code, message))
        elif path == "/apis":
            self._send(200, api_group_list(fake))
        elif path in fake.routes:
            self._send(*fake.routes[path])
        elif path in _BY_PATH and fake.serves(_BY_PATH[path]):
            self._list(_BY_PATH[path], query)
        elif (discovered := discovery_document(fake, path)) is not None:
            self._send(200, discovered)
        else:
            self._not_found()

    def _anonymous(self, path: str, code: int) -> None:
        if code == 200:
            body = orjson.dumps(self.fake.version) if path == "/version" else api_versions()
            self._send(200, body)
        elif code == 403:
            message = f'forbidden: User "system:anonymous" cannot get path "{path}"'
            self._send(403, status_body(403, message))
        else:
            self._send(code, status_body(code, "Unauthorized" if code == 401 else "failure"))

    def _list(self, resource: Resource, query: dict[str, str]) -> None:
        fake, key = self.fake, resource.key
        if key in fake.slow:
            time.sleep(fake.slow[key])
        if key in fake.forbidden:
            self._send(403, status_body(403, _forbidden_message(resource), kind=resource.plural))
            return
        if key in fake.errors:
            code = fake.errors[key]
            message = f"Internal error occurred: fake failure listing {resource.plural}"
            self._send(code, status_body(code, message))
            return
        if key in fake.malformed:
            self._send(200, b'{"kind":"' + resource.kind.encode() + b'List","items":[{"meta')
            return
        items = None if key in fake.not_served else fake.encoded_items(key)
        if items is None:
            self._not_found()
            return
        offset = 0
        if query.get("continue"):
            decoded = _decode_token(query["continue"], key)
            if decoded is None:
                self._send(400, status_body(400, "continue key is not valid"))
                return
            if fake.take_expiry(key):
                self._send(410, status_body(410, EXPIRED_MESSAGE, reason="Expired"))
                return
            offset = decoded
        limit = int(query.get("limit") or 0) or len(items)
        self._send(200, _list_page(resource, items, offset, limit))

    def _not_found(self) -> None:
        message = "the server could not find the requested resource"
        self._send(404, status_body(404, message))

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _list_page(resource: Resource, items: list[bytes], offset: int, limit: int) -> bytes:
    end = min(offset + limit, len(items))
    metadata: JSON = {"resourceVersion": "1"}
    if end < len(items):
        metadata["continue"] = _encode_token(resource.key, end)
        metadata["remainingItemCount"] = len(items) - end
    head = orjson.dumps(
        {"kind": f"{resource.kind}List", "apiVersion": resource.api_version, "metadata": metadata}
    )
    # Splice the pre-serialised items in instead of re-encoding them for every page.
    return head[:-1] + b',"items":[' + b",".join(items[offset:end]) + b"]}"


def _forbidden_message(resource: Resource) -> str:
    return (
        f'{resource.plural} is forbidden: User "{SERVICE_ACCOUNT}" cannot list resource '
        f'"{resource.plural}" in API group "{resource.group}" at the cluster scope'
    )
