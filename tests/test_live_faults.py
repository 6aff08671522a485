"""Bounded live reads (issue 11): a corpus of API fault modes, each through the real entry point.

Each case registers a kubeconfig with `register_cluster` and runs `collect --sync`: the real
`kubernetes` client over HTTP or HTTPS against the fake API server misbehaving one way
(clusters/tests/fakefaults.py). Limits are shrunk so that each mode resolves in seconds.
Every case asserts what a person sees: the run's status, one clean line in `last_error` (no
traceback, no token), and checks over what was not read are never a pass.
"""

from __future__ import annotations

import base64
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from clusters import kube
from clusters.kube_http import Limits
from clusters.models import CollectionRun
from clusters.resources import RESOURCES
from clusters.tests import fakefaults as faults
from clusters.tests.fakeapi import FakeApiServer, status_body
from clusters.tests.test_kube import Pki, _key_pem, _pem, pod

pytestmark = pytest.mark.django_db
TOKEN = "tok-planted-4f9c2e7a1b3d5e6f"  # must never be shown
CAP = 2 * 1024 * 1024
MAX_PAGES = 25


@pytest.fixture(autouse=True)
def tight_limits(settings: Any) -> None:
    settings.RAMPART_KUBE_REQUEST_TIMEOUT = 1
    settings.RAMPART_KUBE_REQUEST_DEADLINE = 2
    settings.RAMPART_KUBE_COLLECTION_DEADLINE = 10
    settings.RAMPART_KUBE_MAX_PAGES = MAX_PAGES
    settings.RAMPART_KUBE_MAX_RESPONSE_BYTES = CAP
    settings.RAMPART_KUBE_MAX_RETRY_AFTER = 2
    settings.RAMPART_KUBE_MAX_RETRIES = 3


def clean_cluster() -> dict[str, list[dict[str, Any]]]:
    """Every built-in kind, with pods that pass the baseline: a fault can only make it worse."""
    objects: dict[str, list[dict[str, Any]]] = {r.key: [] for r in RESOURCES if not r.optional}
    objects["namespaces"] = [{"metadata": {"name": "shop"}}]
    objects["nodes"] = [{"metadata": {"name": "node-1"}}]
    objects["pods"] = [pod(i) for i in range(3)]
    return objects


def kubeconfig(server: str, *, ca: bytes | None = None, server_name: str | None = None) -> str:
    cluster = f"    server: {server}\n"
    if ca is not None:
        cluster += f"    certificate-authority-data: {base64.b64encode(ca).decode()}\n"
    if server_name:
        cluster += f"    tls-server-name: {server_name}\n"
    return (
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
        f"clusters:\n- name: fake\n  cluster:\n{cluster}"
        f"users:\n- name: fake\n  user:\n    token: {TOKEN}\n"
        "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
    )


@dataclass
class Outcome:
    run: CollectionRun
    seconds: float
    server: FakeApiServer
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def collect(server: FakeApiServer, tmp_path: Path, config: str | None = None) -> Outcome:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(config or kubeconfig(server.url))
    call_command("register_cluster", "faulty", "--kubeconfig", str(path), "--no-collect")
    started = time.monotonic()
    try:
        call_command("collect", "faulty", "--sync", stdout=_Sink(), stderr=_Sink())
    except CommandError as failed:
        assert "Traceback" not in str(failed)
    seconds = time.monotonic() - started
    run = CollectionRun.objects.filter(cluster__name="faulty").latest("id")
    outcome = Outcome(run, seconds, server)
    if run.status != CollectionRun.Status.FAILED:
        sink = _Sink()
        call_command("posture", "faulty", "--format", "json", stdout=sink)
        document = orjson.loads(sink.text)
        outcome.checks = {check["id"]: check for check in document["checks"]}
    return outcome


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def assert_clean(text: str) -> None:
    """One line meant for a person: no traceback, no repr soup, no credential."""
    assert text
    assert "\n" not in text, text
    assert "Traceback" not in text, text
    assert TOKEN not in text and "tok-planted" not in text, text
    assert "_ssl.c" not in text and "HTTPSConnectionPool" not in text, text
    assert "Max retries exceeded" not in text, text


def assert_never_passes(outcome: Outcome, key: str) -> None:
    """Checks that needed what was not read are unknown (or judged on what was), never pass."""
    lacking = [c for c in outcome.checks.values() if key in c.get("missing", [])]
    assert lacking, f"no check says {key} is missing"
    assert all(c["status"] != "pass" for c in lacking), [c["id"] for c in lacking]
    if key == "pods":  # the clean pods would pass the baseline, had they been read
        assert outcome.checks["pss.baseline"]["status"] == "unknown"


# The corpus: one fault mode per case


@dataclass
class Case:
    id: str
    server: Callable[[Path], Served]
    status: str  # the run's status
    reason: str  # in last_error
    kind: str | None = None  # the kind not read: its checks must not pass
    most_seconds: float = 6.0


@dataclass
class Served:
    """A fake API server, and the kubeconfig for it once it listens (None: the usual one)."""

    server: FakeApiServer
    kubeconfig: Callable[[str], str] | None = None  # the server's URL -> a kubeconfig


def plain(**options: Any) -> Callable[[Path], Served]:
    def build(tmp: Path) -> Served:
        return Served(FakeApiServer(clean_cluster(), token=TOKEN, **options))

    return build


def on(key: str, fault: faults.Fault) -> Callable[[Path], Served]:
    return plain(faults={key: fault})


def tls(kind: str) -> Callable[[Path], Served]:
    """HTTPS with a certificate problem: the kubeconfig's view of the server is wrong."""

    def build(tmp: Path) -> Served:
        pki = Pki(tmp)
        context = pki.server_context()
        if kind == "expired":
            context.load_cert_chain(*_expired_chain(pki, tmp))
        ca = _pem(pki.ca_cert)
        if kind == "wrong-ca":
            (tmp / "other").mkdir()
            ca = _pem(Pki(tmp / "other").ca_cert)  # same CA name, another key
        name = None if kind == "hostname" else "api.rampart.test"
        return Served(
            FakeApiServer(clean_cluster(), token=TOKEN, tls=context),
            lambda url: kubeconfig(url, ca=ca, server_name=name),
        )

    return build


def tls_to_plain(tmp: Path) -> Served:
    return Served(
        FakeApiServer(clean_cluster(), token=TOKEN),
        lambda url: kubeconfig(url.replace("http://", "https://")),
    )


CASES = [
    # Time: each read inside the timeout, the response never done.
    Case(
        "trickled body",
        on("pods", faults.Trickle(interval=0.3)),
        "partial",
        "gave up after 2s",
        "pods",
    ),
    Case(
        "slow headers",
        on("pods", faults.SlowHeaders(interval=0.3)),
        "partial",
        "answered too slowly",
        "pods",
    ),
    # Size: never buffered past the cap.
    Case(
        "endless continue",
        on("pods", faults.EndlessContinue()),
        "partial",
        f"gave up after {MAX_PAGES} pages",
        "pods",
    ),
    Case(
        "repeated continue",
        on("pods", faults.EndlessContinue(same_token=True)),
        "partial",
        "repeated a continue token",
        "pods",
    ),
    Case(
        "endless chunked",
        on("pods", faults.EndlessChunked()),
        "partial",
        "is larger than the 2,097,152-byte limit",
        "pods",
    ),
    Case(
        "huge declared body",
        on("pods", faults.HugeBody()),
        "partial",
        "declares 1,200,000,000 bytes",
        "pods",
    ),
    Case(
        "huge undeclared body",
        on("pods", faults.HugeBody(declare=False)),
        "partial",
        "is larger than",
        "pods",
    ),
    Case("gzip bomb", on("pods", faults.GzipBomb()), "partial", "is larger than", "pods"),
    # TLS: configuration, not retried, one line.
    Case("wrong CA", tls("wrong-ca"), "failed", "not signed by the CA in the kubeconfig"),
    Case("expired certificate", tls("expired"), "failed", "certificate has expired"),
    Case("hostname mismatch", tls("hostname"), "failed", "does not name the address"),
    Case("TLS to a plain HTTP port", tls_to_plain, "failed", "TLS handshake failed"),
    # Not a Kubernetes API server.
    Case(
        "/version 404",
        on("/version", faults.Answer(404, status_body(404, "nope"))),
        "failed",
        "does not look like a Kubernetes API server",
    ),
    Case(
        "HTML everywhere",
        on("*", faults.Answer(200, faults.HTML, content_type="text/html")),
        "failed",
        "/version is not version JSON",
    ),
    Case("not HTTP at all", on("*", faults.NotHttp()), "failed", "did not answer HTTP"),
    # One kind fails: the others are judged, that one is not.
    Case(
        "HTML on a kind",
        on("pods", faults.Answer(200, faults.HTML, content_type="text/html")),
        "partial",
        "text/html, not JSON",
        "pods",
    ),
    Case("404 on a kind", plain(not_served={"pods"}), "partial", "answered 404 Not Found", "pods"),
    Case("403 on a kind", plain(forbidden={"pods"}), "partial", "cannot list resource", "pods"),
    Case("500 on a kind", plain(errors={"pods": 500}), "partial", "HTTP 500", "pods"),
    Case(
        "503 forever on a kind",
        on("pods", faults.Flaky(503, times=100, retry_after="0")),
        "partial",
        "HTTP 503",
        "pods",
    ),
    Case(
        "429 past the deadline",
        on("pods", faults.Flaky(429, times=100, retry_after="3600")),
        "partial",
        "asked to retry after 3600s",
        "pods",
    ),
    Case(
        "connection reset mid-body",
        on("pods", faults.ResetMidBody()),
        "partial",
        "connection was",
        "pods",
    ),
    Case(
        "truncated JSON",
        plain(malformed={"pods"}),
        "partial",
        "malformed response (not JSON)",
        "pods",
    ),
    Case(
        "garbage body",
        on("pods", faults.Answer(200, b"\x00\xff\xfe garbage \x89PNG")),
        "partial",
        "malformed response (not JSON)",
        "pods",
    ),
    Case("empty body", on("pods", faults.Answer(200, b"")), "partial", "an empty body", "pods"),
    Case(
        "wrong kind in list",
        on("pods", faults.WrongKind()),
        "partial",
        "expected a PodList, got ServiceList",
        "pods",
    ),
    # Retry-After honoured: the collection completes.
    Case(
        "429 with Retry-After, then OK",
        on("pods", faults.Flaky(429, times=2, retry_after="1")),
        "succeeded",
        "",
    ),
    Case(
        "503 then OK", on("/version", faults.Flaky(503, times=1, retry_after="1")), "succeeded", ""
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_fault_mode_ends_in_a_clean_reason_and_no_false_pass(
    case: Case, tmp_path: Path, auditor: Client
) -> None:
    served = case.server(tmp_path)
    with served.server as server:
        config = served.kubeconfig(server.url) if served.kubeconfig else None
        outcome = collect(server, tmp_path, config)
    run = outcome.run

    assert run.status == case.status, run.last_error
    assert outcome.seconds < case.most_seconds, outcome.seconds
    if case.status == "succeeded":
        assert run.last_error == ""
        assert outcome.checks["pss.baseline"]["status"] == "pass"
        return
    assert case.reason in run.last_error, run.last_error
    assert_clean(run.last_error)
    for reason in run.kind_errors.values():
        assert_clean(reason)
    if case.kind:
        assert run.kind_status[case.kind] != "ok"
        assert_never_passes(outcome, case.kind)
        assert run.kind_status["nodes"] == "ok"  # one kind's fault does not stop the others
    page = auditor.get(reverse("cluster_detail", args=["faulty"])).content.decode()
    assert "Traceback" not in page and TOKEN not in page


def test_it_stops_an_endless_list_at_the_page_cap(tmp_path: Path) -> None:
    endless = faults.EndlessContinue()
    with FakeApiServer(clean_cluster(), token=TOKEN, faults={"pods": endless}) as server:
        outcome = collect(server, tmp_path)

    assert endless.served == MAX_PAGES  # not 4,050 requests in 90 s
    assert "RAMPART_KUBE_MAX_PAGES" in outcome.run.kind_errors["pods"]


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "undeclared"])
def test_it_stops_reading_a_huge_body_at_the_cap(tmp_path: Path, declare: bool) -> None:
    huge = faults.HugeBody(declare=declare)
    with FakeApiServer(clean_cluster(), token=TOKEN, faults={"pods": huge}) as server:
        outcome = collect(server, tmp_path)

    assert "RAMPART_KUBE_MAX_RESPONSE_BYTES" in outcome.run.kind_errors["pods"]
    # What the server got to send before the client hung up: the cap and socket buffers.
    assert huge.sent < CAP + 16 * 1024 * 1024, huge.sent


def test_it_gives_up_on_a_trickled_body_at_the_request_deadline(tmp_path: Path) -> None:
    trickle = faults.Trickle(interval=0.2)
    with FakeApiServer(clean_cluster(), token=TOKEN, faults={"pods": trickle}) as server:
        outcome = collect(server, tmp_path)

    assert outcome.run.kind_errors["pods"].startswith("gave up after 2s")
    assert trickle.sent < 20  # about 2 s worth of bytes, not 100,000


def test_it_stops_at_the_collection_deadline_and_reads_nothing_after(
    tmp_path: Path, settings: Any
) -> None:
    settings.RAMPART_KUBE_COLLECTION_DEADLINE = 3
    slow = {key: faults.Trickle(interval=0.3) for key in ("pods", "nodes", "services")}
    with FakeApiServer(clean_cluster(), token=TOKEN, faults=slow) as server:  # type: ignore[arg-type]
        outcome = collect(server, tmp_path)

    run = outcome.run
    assert outcome.seconds < 5
    assert run.status == "partial"
    not_read = [key for key, reason in run.kind_errors.items() if "collection deadline" in reason]
    assert not_read  # the kinds after the deadline are errors, never empty lists
    assert all(run.kind_status[key] == "error" for key in not_read)
    assert_clean(run.last_error)


def test_it_honours_retry_after_before_retrying(tmp_path: Path) -> None:
    limited = faults.Flaky(429, times=2, retry_after="1")
    with FakeApiServer(clean_cluster(), token=TOKEN, faults={"pods": limited}) as server:
        outcome = collect(server, tmp_path)
        pod_requests = [line for line in server.requests if line.startswith("GET /api/v1/pods")]

    assert outcome.run.status == "succeeded"
    assert outcome.seconds >= 2  # waited as asked, twice
    assert len(pod_requests) == 3


# TLS helpers


def _expired_chain(pki: Pki, tmp: Path) -> tuple[Path, Path]:
    """A certificate for api.rampart.test, signed by the CA, that expired yesterday."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.rampart.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("api.rampart.test")]), False)
        .sign(pki.ca_key, hashes.SHA256())
    )
    (tmp / "expired.pem").write_bytes(_pem(certificate) + _pem(pki.ca_cert))
    (tmp / "expired.key").write_bytes(_key_pem(key))
    return tmp / "expired.pem", tmp / "expired.key"


def test_a_connection_test_reports_a_stalled_kind_within_its_deadline() -> None:
    """The "test connection" page: a person waits on it, so each kind is bounded too."""
    limits = Limits(request_deadline=1, collection_deadline=5)
    stalled = {"pods": faults.SlowHeaders(interval=0.3)}
    with FakeApiServer(clean_cluster(), token=TOKEN, faults=stalled) as server:  # type: ignore[arg-type]
        started = time.monotonic()
        report = kube.test_connection(server.credentials(), timeout=1, limits=limits)
        seconds = time.monotonic() - started

    assert seconds < 4
    assert report.ok
    assert report.resources["pods"].startswith("error: gave up after 1s")
    assert report.resources["nodes"] == "ok"
