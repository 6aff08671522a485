"""The live source over real HTTP: the official client against the fake API server."""

from __future__ import annotations

import base64
import datetime
import socket
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clusters import kube
from clusters.inventory import LAST_APPLIED, KindStatus
from clusters.kubeconfig import Credentials, parse_kubeconfig
from clusters.resources import BY_KEY, RESOURCES
from clusters.tests.fakeapi import FakeApiServer

CORE = [BY_KEY[key] for key in ("namespaces", "pods", "nodes", "services")]


def pod(index: int, namespace: str = "shop") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": f"web-{index:05d}",
            "namespace": namespace,
            "uid": f"uid-{index}",
            "annotations": {LAST_APPLIED: '{"huge": true}', "team": "shop"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        },
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def named(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}}


def cluster_objects(pods: int = 3) -> dict[str, list[dict[str, Any]]]:
    return {
        "namespaces": [named("shop"), named("kube-system")],
        "pods": [pod(i) for i in range(pods)],
        "nodes": [named("node-1")],
        "services": [],
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_it_pages_through_every_item_with_continue_tokens() -> None:
    with FakeApiServer({"pods": [pod(i) for i in range(1234)]}) as server:
        inventory = kube.collect(server.credentials(), page_size=100, resources=[BY_KEY["pods"]])
        requests = [line for line in server.requests if "/api/v1/pods" in line]

    names = [item["metadata"]["name"] for item in inventory.items("pods")]
    assert names == [f"web-{i:05d}" for i in range(1234)]
    assert inventory.kind_status["pods"] == KindStatus.OK
    assert len(requests) == 13
    assert all("limit=100" in line for line in requests)
    assert all("continue=" in line for line in requests[1:])


def test_it_collects_through_a_kubeconfig_and_records_the_version() -> None:
    with FakeApiServer(cluster_objects()) as server:
        credentials = parse_kubeconfig(server.kubeconfig())
        inventory = kube.collect(credentials, resources=CORE)

    assert inventory.git_version == "v1.31.4"
    assert inventory.counts() == {"namespaces": 2, "pods": 3, "nodes": 1, "services": 0}
    assert all(inventory.has(resource.key) for resource in CORE)


def test_it_trims_managed_fields_and_last_applied_configuration() -> None:
    with FakeApiServer(cluster_objects()) as server:
        inventory = kube.collect(server.credentials(), resources=[BY_KEY["pods"]])

    first = inventory.items("pods")[0]
    assert "managedFields" not in first["metadata"]
    assert first["metadata"]["annotations"] == {"team": "shop"}
    assert first["status"] == {"phase": "Running"}
    assert first["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_it_reports_progress_while_paging() -> None:
    messages: list[str] = []
    with FakeApiServer({"pods": [pod(i) for i in range(250)]}) as server:
        kube.collect(
            server.credentials(),
            page_size=100,
            progress=messages.append,
            resources=[BY_KEY["pods"]],
        )

    assert "listing pods: 100 so far" in messages
    assert "listing pods: 200 so far" in messages


def test_it_raises_unauthorized_for_a_wrong_token_without_echoing_it() -> None:
    with FakeApiServer(cluster_objects()) as server:
        credentials = server.credentials(token="stolen-or-expired-token")
        with pytest.raises(kube.Unauthorized) as raised:
            kube.collect(credentials, resources=CORE)

    message = str(raised.value)
    assert "rejected the credentials (401" in message
    assert server.url in message
    assert "stolen-or-expired-token" not in message


def test_it_records_a_forbidden_kind_and_keeps_the_others() -> None:
    with FakeApiServer(cluster_objects(), forbidden={"nodes"}) as server:
        inventory = kube.collect(server.credentials(), resources=CORE)

    assert inventory.kind_status["nodes"] == KindStatus.FORBIDDEN
    assert not inventory.has("nodes")
    assert "nodes" not in inventory.objects
    assert 'cannot list resource "nodes"' in inventory.kind_errors["nodes"]
    assert inventory.has("pods")
    assert inventory.has("namespaces")


def test_it_records_a_server_error_and_keeps_the_others() -> None:
    with FakeApiServer(cluster_objects(), errors={"pods": 500}) as server:
        inventory = kube.collect(server.credentials(), resources=CORE)

    assert inventory.kind_status["pods"] == KindStatus.ERROR
    assert inventory.kind_errors["pods"].startswith("HTTP 500: Internal error occurred")
    assert inventory.has("nodes")


def test_it_records_a_malformed_body_as_an_error() -> None:
    with FakeApiServer(cluster_objects(), malformed={"pods"}) as server:
        inventory = kube.collect(server.credentials(), resources=CORE)

    assert inventory.kind_status["pods"] == KindStatus.ERROR
    assert "malformed response" in inventory.kind_errors["pods"]
    assert inventory.has("services")


def test_it_records_a_kind_that_is_not_served() -> None:
    reports = BY_KEY["vulnerabilityreports"]
    with FakeApiServer(cluster_objects(), not_served={"pods"}) as server:
        inventory = kube.collect(server.credentials(), resources=[*CORE, reports])

    # An add-on may be absent; pods never are, so their 404 leaves them not collected.
    assert inventory.kind_status["pods"] == KindStatus.NOT_COLLECTED
    assert "answered 404 Not Found" in inventory.kind_errors["pods"]
    assert inventory.kind_status["vulnerabilityreports"] == KindStatus.NOT_SERVED
    assert "not installed" in inventory.kind_errors["vulnerabilityreports"]


def test_it_gives_up_on_a_slow_kind_and_keeps_the_others() -> None:
    started = time.monotonic()
    with FakeApiServer(cluster_objects(), slow={"pods": 2.0}) as server:
        inventory = kube.collect(server.credentials(), timeout=0.5, resources=CORE)
    elapsed = time.monotonic() - started

    assert inventory.kind_status["pods"] == KindStatus.ERROR
    assert inventory.kind_errors["pods"] == "timed out after 0.5s"
    assert inventory.has("nodes")
    assert elapsed < 2.0


def test_it_starts_a_list_over_when_the_continue_token_expires() -> None:
    with FakeApiServer({"pods": [pod(i) for i in range(250)]}, expire_continue_once={"pods"}) as s:
        inventory = kube.collect(s.credentials(), page_size=100, resources=[BY_KEY["pods"]])
        first_pages = [line for line in s.requests if line == "GET /api/v1/pods?limit=100"]

    assert len(inventory.items("pods")) == 250
    assert len({item["metadata"]["name"] for item in inventory.items("pods")}) == 250
    assert len(first_pages) == 2


class AlwaysExpiring(FakeApiServer):
    def take_expiry(self, key: str) -> bool:
        return True


def test_it_marks_a_kind_as_error_when_its_list_keeps_expiring() -> None:
    with AlwaysExpiring({"pods": [pod(i) for i in range(30)], "nodes": []}) as server:
        inventory = kube.collect(
            server.credentials(), page_size=10, resources=[BY_KEY["pods"], BY_KEY["nodes"]]
        )
        first_pages = [line for line in server.requests if line == "GET /api/v1/pods?limit=10"]

    assert inventory.kind_status["pods"] == KindStatus.ERROR
    assert "continue token expired 4 times" in inventory.kind_errors["pods"]
    assert len(first_pages) == kube.MAX_LIST_RESTARTS + 1
    assert inventory.has("nodes")


def test_it_raises_unreachable_when_nothing_listens() -> None:
    credentials = Credentials(server=f"http://127.0.0.1:{free_port()}", token="t")

    with pytest.raises(kube.Unreachable, match="cannot reach the API server at http://127"):
        kube.collect(credentials, timeout=2)


def test_it_records_what_anonymous_users_get() -> None:
    anonymous = {"/version": 200, "/api": 200}
    with FakeApiServer(cluster_objects(), anonymous=anonymous) as server:
        inventory = kube.collect(server.credentials(), resources=CORE)

    assert inventory.anonymous_probe == {"/version": 200, "/api": 200}


def test_it_probes_anonymously_without_sending_the_token() -> None:
    with FakeApiServer(cluster_objects()) as server:
        codes = kube.probe_anonymous(server.credentials(), timeout=2)

    assert codes == {"/version": 200, "/api": 403}


def test_it_reports_no_probe_when_unreachable() -> None:
    credentials = Credentials(server=f"http://127.0.0.1:{free_port()}", token="t")

    assert kube.probe_anonymous(credentials, timeout=1) is None


def test_it_reports_what_the_credentials_can_see() -> None:
    objects = {**cluster_objects(), "nodes": [named("node-1")]}
    with FakeApiServer(objects, forbidden={"nodes"}, errors={"services": 500}) as server:
        report = kube.test_connection(server.credentials(), timeout=2)

    assert report.ok
    assert report.version == "v1.31.4"
    assert report.resources["pods"] == "ok"
    assert report.resources["nodes"] == "forbidden"
    assert report.resources["services"].startswith("error: HTTP 500")
    assert report.resources["vulnerabilityreports"] == "not_served"
    assert set(report.resources) == {resource.key for resource in RESOURCES}
    assert report.anonymous_probe == {"/version": 200, "/api": 403}
    assert all("limit=1" in line for line in server.requests if "/api/v1/pods" in line)


def test_it_reports_a_failed_connection_test() -> None:
    with FakeApiServer(cluster_objects()) as server:
        report = kube.test_connection(server.credentials(token="wrong"), timeout=2)

    assert not report.ok
    assert report.error is not None
    assert "rejected the credentials" in report.error
    assert report.resources == {}


def test_it_deletes_certificate_files_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    with FakeApiServer(cluster_objects()) as server:
        credentials = Credentials(server=server.url, token="test-token", ca_data=pem)
        kube.collect(credentials, resources=CORE)

    assert list(tmp_path.iterdir()) == []


def test_it_serves_an_evidence_bundle_by_content_not_file_name(tmp_path: Path) -> None:
    pods = {"kind": "List", "apiVersion": "v1", "items": [pod(1), pod(2)]}
    (tmp_path / "workloads-export.json").write_bytes(orjson.dumps(pods))
    (tmp_path / "nodes.json").write_bytes(orjson.dumps({"kind": "NodeList", "items": []}))
    version = {"major": "1", "minor": "29", "gitVersion": "v1.29.2"}
    (tmp_path / "version.json").write_bytes(orjson.dumps(version))

    with FakeApiServer.from_bundle(tmp_path) as server:
        inventory = kube.collect(server.credentials(), resources=CORE)

    assert inventory.git_version == "v1.29.2"
    assert inventory.counts() == {"pods": 2, "nodes": 0}
    # A kind the bundle lacks must not come back as an empty, passing list.
    assert inventory.kind_status["namespaces"] == KindStatus.NOT_COLLECTED


def test_it_serves_lists_shaped_like_the_real_api() -> None:
    with FakeApiServer({"pods": [pod(i) for i in range(3)]}) as server:
        credentials = server.credentials()
        with kube._session(credentials, 2) as session:
            page = orjson.loads(session.get("/api/v1/pods", [("limit", 2)]).body)

    assert page["kind"] == "PodList"
    assert page["apiVersion"] == "v1"
    assert page["metadata"]["continue"]
    assert page["metadata"]["remainingItemCount"] == 1
    assert "kind" not in page["items"][0]


class Pki:
    """A throwaway CA issuing a server certificate (for api.rampart.test only) and a client one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = self._issue("rampart-test-ca", self.ca_key.public_key(), ca=True)
        self.server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = self._issue("api.rampart.test", self.server_key.public_key(), ca=False)
        self.client_key = ec.generate_private_key(ec.SECP256R1())
        self.client_cert = self._issue("rampart-collector", self.client_key.public_key(), ca=False)
        (directory / "server.pem").write_bytes(_pem(server_cert) + _pem(self.ca_cert))
        (directory / "server.key").write_bytes(_key_pem(self.server_key))
        (directory / "ca.pem").write_bytes(_pem(self.ca_cert))

    def _issue(self, name: str, public_key: Any, *, ca: bool) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        issuer = subject if ca else self.ca_cert.subject
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
            )
        return builder.sign(self.ca_key, hashes.SHA256())

    def server_context(self, *, require_client_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.directory / "server.pem", self.directory / "server.key")
        if require_client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.directory / "ca.pem")
        return context

    def credentials(self, server: str, **overrides: Any) -> Credentials:
        values: dict[str, Any] = {
            "server": server,
            "ca_data": base64.b64encode(_pem(self.ca_cert)).decode(),
            "tls_server_name": "api.rampart.test",
            "token": "test-token",
            **overrides,
        }
        return Credentials(**values)

    def client_certificate(self) -> dict[str, str]:
        return {
            "client_certificate_data": base64.b64encode(_pem(self.client_cert)).decode(),
            "client_key_data": base64.b64encode(_key_pem(self.client_key)).decode(),
        }


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_it_verifies_the_server_against_the_kubeconfig_ca(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    with FakeApiServer(cluster_objects(), tls=pki.server_context()) as server:
        inventory = kube.collect(pki.credentials(server.url), resources=CORE)

    assert inventory.has("pods")
    assert inventory.anonymous_probe == {"/version": 200, "/api": 403}


def test_it_refuses_a_server_whose_certificate_does_not_match(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    with FakeApiServer(cluster_objects(), tls=pki.server_context()) as server:
        # The certificate names api.rampart.test, not 127.0.0.1: not retried, not trusted.
        credentials = pki.credentials(server.url, tls_server_name=None)
        with pytest.raises(kube.KubeError, match="cannot connect securely") as raised:
            kube.collect(credentials, resources=CORE)

    assert not isinstance(raised.value, kube.Unreachable)
    assert "certificate verify failed" in str(raised.value)


def test_it_authenticates_with_a_client_certificate(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    context = pki.server_context(require_client_certificate=True)
    with FakeApiServer(cluster_objects(), token=None, tls=context) as server:
        credentials = pki.credentials(server.url, token=None, **pki.client_certificate())
        inventory = kube.collect(credentials, resources=CORE)

    assert inventory.has("pods")
    # Without its certificate the anonymous probe cannot even finish the TLS handshake.
    assert inventory.anonymous_probe is None


def test_it_reports_unusable_stored_credentials_as_a_failed_test() -> None:
    credentials = Credentials(server="https://127.0.0.1:1", token="t", ca_data="not base64!")

    report = kube.test_connection(credentials, timeout=1)

    assert not report.ok
    assert report.error is not None
    assert "stored credentials are unusable" in report.error
