"""Small fake GKE and EKS APIs on 127.0.0.1, so the official clients are tested over real HTTP.

`FakeGke` answers what google-cloud-container's REST transport asks: an OAuth token for a
service-account key's signed assertion (`POST /token`, the key's token_uri), then
`GET /v1/projects/P/locations/L/clusters/C` and `...:fetchClusterUpgradeInfo`, with Google's
error bodies on 403 and 404. `FakeEks` answers boto3's rest-json EKS calls (DescribeCluster,
ListNodegroups paginated, DescribeNodegroup, DescribeClusterVersions) and checks the SigV4
credential's access key id. Both serve recorded JSON (clusters/tests/provider_json/) and record
every request, so tests assert what the client actually sent.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JSON = dict[str, Any]
RECORDINGS = Path(__file__).resolve().parent / "provider_json"
ACCESS_TOKEN = "ya29.fake-access-token"
ACCESS_KEY_ID = "AKIAFAKEEXAMPLE00001"
SECRET_ACCESS_KEY = "fake/secret/access/key/0123456789abcdef"


def recording(name: str) -> JSON:
    document: JSON = json.loads((RECORDINGS / f"{name}.json").read_text())
    return document


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 with a request log, as a context manager."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> Any:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def record(self, line: str) -> None:
        with self._lock:
            self.requests.append(line)


class _Handler(BaseHTTPRequestHandler):
    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, code: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# --- GKE ---------------------------------------------------------------------------------------


@cache
def _private_key_pem() -> str:
    # One real RSA key for the whole run: generating a 2048-bit key costs a second each time.
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def service_account_key(token_uri: str, *, email: str = "rampart-reader@acme-orders.iam") -> str:
    """A real RSA service-account key JSON whose token_uri is the fake's (never a Google one)."""
    pem = _private_key_pem()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-orders",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": pem,
            "client_email": f"{email}.gserviceaccount.com",
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }
    )


class _GkeHandler(_Handler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        self.fake.record(f"POST {self.path}")
        if self.path != "/token":
            self.send_json(404, {"error": "not_found"})
            return
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            self.send_json(400, {"error": "unsupported_grant_type"})
            return
        # The assertion is a JWT the client signed with the key: its claims name the account.
        claims = json.loads(_b64(form["assertion"][0].split(".")[1]))
        self.fake.assertions.append(claims)
        if self.fake.refuse_tokens:
            self.send_json(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
            return
        self.send_json(
            200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        )

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.fake.record(f"GET {path}")
        if not self._authenticated():
            self._error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
            return
        name, _, method = path.removeprefix("/v1/").partition(":")
        if name in self.fake.denied:
            self._error(
                403,
                f"Required 'container.clusters.get' permission for '{name}'.",
                "PERMISSION_DENIED",
            )
            return
        cluster = self.fake.clusters.get(name)
        if cluster is None:
            self._error(404, f"Not found: {name}.", "NOT_FOUND")
        elif method == "fetchClusterUpgradeInfo":
            if self.fake.upgrade_info is None:
                self._error(
                    403, "Permission denied on fetchClusterUpgradeInfo.", "PERMISSION_DENIED"
                )
            else:
                self.send_json(200, self.fake.upgrade_info)
        elif method:
            self._error(404, f"Unknown method {method}.", "NOT_FOUND")
        else:
            self.send_json(200, cluster)

    def _authenticated(self) -> bool:
        """An access token from /token, or the self-signed JWT google-auth sends for a
        service-account key to Google APIs (signed by the key, its claims recorded)."""
        if self.fake.refuse_tokens:
            return False
        bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if bearer == ACCESS_TOKEN:
            return True
        parts = bearer.split(".")
        if len(parts) != 3:
            return False
        claims = json.loads(_b64(parts[1]))
        self.fake.assertions.append(claims)
        return str(claims.get("iss", "")).endswith(".gserviceaccount.com")

    def _error(self, code: int, message: str, status: str) -> None:
        self.send_json(code, {"error": {"code": code, "message": message, "status": status}})


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class FakeGke(_Server):
    """Serves `clusters` ("projects/P/locations/L/clusters/C" -> Cluster JSON)."""

    handler = _GkeHandler

    def __init__(
        self,
        clusters: Mapping[str, JSON],
        *,
        upgrade_info: JSON | None = None,
        denied: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.clusters = dict(clusters)
        self.upgrade_info = upgrade_info
        self.denied = set(denied or ())
        self.refuse_tokens = False
        self.assertions: list[JSON] = []

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"


# --- EKS ---------------------------------------------------------------------------------------


class _EksHandler(_Handler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        self.fake.record(f"GET {path}" + (f"?{parts.query}" if parts.query else ""))
        authorization = self.headers.get("Authorization") or ""
        if f"Credential={self.fake.access_key_id}/" not in authorization:
            self._error(403, "UnrecognizedClientException", "The security token is invalid.")
            return
        segments = path.strip("/").split("/")
        if segments == ["cluster-versions"]:
            if self.fake.cluster_versions is None:
                self._error(403, "AccessDeniedException", "not authorized: DescribeClusterVersions")
            else:
                wanted = set(query.get("clusterVersions", []))
                rows = [
                    row
                    for row in self.fake.cluster_versions["clusterVersions"]
                    if not wanted or row["clusterVersion"] in wanted
                ]
                self.send_json(200, {"clusterVersions": rows})
            return
        if len(segments) < 2 or segments[0] != "clusters":
            self._error(404, "ResourceNotFoundException", "No such resource.")
            return
        cluster = self.fake.clusters.get(segments[1])
        if segments[1] in self.fake.denied:
            self._error(403, "AccessDeniedException", f"not authorized to describe {segments[1]}")
        elif cluster is None:
            self._error(
                404, "ResourceNotFoundException", f"No cluster found for name: {segments[1]}."
            )
        elif len(segments) == 2:
            body = {key: value for key, value in cluster.items() if key != "nodegroups"}
            self.send_json(200, {"cluster": body})
        elif segments[2:3] == ["node-groups"] and len(segments) == 3:
            names = [group["nodegroupName"] for group in cluster.get("nodegroups", [])]
            start = int(query.get("nextToken", ["0"])[0])
            page = names[start : start + self.fake.page_size]
            listing: JSON = {"nodegroups": page}
            if start + self.fake.page_size < len(names):
                listing["nextToken"] = str(start + self.fake.page_size)
            self.send_json(200, listing)
        elif segments[2:3] == ["node-groups"] and len(segments) == 4:
            found = [g for g in cluster.get("nodegroups", []) if g["nodegroupName"] == segments[3]]
            if found:
                self.send_json(200, {"nodegroup": found[0]})
            else:
                self._error(404, "ResourceNotFoundException", "No node group found.")
        else:
            self._error(404, "ResourceNotFoundException", "No such resource.")

    def _error(self, code: int, error_type: str, message: str) -> None:
        self.send_json(code, {"message": message}, headers={"x-amzn-ErrorType": error_type})


class FakeEks(_Server):
    """Serves `clusters` (name -> the eks-cluster.json shape: cluster + nodegroups)."""

    handler = _EksHandler

    def __init__(
        self,
        clusters: Mapping[str, JSON],
        *,
        cluster_versions: JSON | None = None,
        denied: set[str] | None = None,
        access_key_id: str = ACCESS_KEY_ID,
        page_size: int = 2,
    ) -> None:
        super().__init__()
        self.clusters = dict(clusters)
        self.cluster_versions = cluster_versions
        self.denied = set(denied or ())
        self.access_key_id = access_key_id
        self.page_size = page_size
