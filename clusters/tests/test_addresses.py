"""API server addresses: refused in every spelling, at registration and at each connection.

The resolver is the C library's (socket.getaddrinfo); where a test needs a name to answer
differently from one call to the next (DNS rebinding), that stdlib function is replaced for the
one name and every other lookup goes through.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from clusters import kube
from clusters.addresses import AddressRefused, AddressUnresolved, server_addresses
from clusters.kubeconfig import Credentials
from clusters.models import Cluster
from clusters.services import RegistrationError, cluster_register
from clusters.tests.fakeapi import FakeApiServer
from clusters.tests.hostile_kubeconfigs import METADATA_SPELLINGS, OTHER_REFUSED, kubeconfig
from clusters.tests.test_kube import CORE, Pki, cluster_objects

REAL_GETADDRINFO = socket.getaddrinfo
ALLOWED = [
    "127.0.0.1",
    "127.1",
    "[::1]",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.10",
    "[fd00::1]",
    "100.64.0.1",
    "203.0.113.7",
    "localhost",
]


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, list[str]], list[str]]]:
    """`answers(name, [ip, ip, ...])`: the name resolves to the next IP at each lookup."""
    planned: dict[str, list[str]] = {}
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        numeric_only = kwargs.get("flags", 0) & socket.AI_NUMERICHOST
        if isinstance(host, str) and host in planned and not numeric_only:
            asked.append(host)
            queue = planned[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            return REAL_GETADDRINFO(address, port, *args, **kwargs)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    def plan(name: str, addresses: list[str]) -> list[str]:
        planned[name] = list(addresses)
        return asked

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield plan


@pytest.mark.parametrize("host", METADATA_SPELLINGS.values(), ids=METADATA_SPELLINGS.keys())
def test_it_refuses_the_metadata_address_in_every_spelling(host: str) -> None:
    with pytest.raises(AddressRefused, match="metadata"):
        server_addresses(host.strip("[]"), 443, resolve=False)


@pytest.mark.parametrize(("host", "word"), OTHER_REFUSED.values(), ids=OTHER_REFUSED.keys())
def test_it_refuses_addresses_that_are_never_an_api_server(host: str, word: str) -> None:
    with pytest.raises(AddressRefused, match=word):
        server_addresses(host.strip("[]"), 443)


@pytest.mark.parametrize("host", ALLOWED)
def test_it_allows_loopback_private_and_public_addresses(host: str) -> None:
    assert server_addresses(host.strip("[]"), 443)


def test_it_allows_a_range_an_administrator_listed(settings: Any) -> None:
    settings.RAMPART_ALLOWED_SERVER_CIDRS = ["169.254.10.0/24"]

    assert server_addresses("169.254.10.20", 443) == ["169.254.10.20"]
    with pytest.raises(AddressRefused, match="metadata"):
        server_addresses("169.254.169.254", 443)


def test_it_refuses_a_name_when_any_answer_is_refused(answers: Any) -> None:
    answers("two-faced.test", ["10.0.0.7"])
    assert server_addresses("two-faced.test", 443) == ["10.0.0.7"]

    answers("rebinding.test", ["169.254.169.254"])
    with pytest.raises(AddressRefused, match=r"rebinding.test \(resolves to 169.254.169.254\)"):
        server_addresses("rebinding.test", 443)


def test_it_says_when_a_name_does_not_resolve() -> None:
    with pytest.raises(AddressUnresolved, match=r"DNS lookup failed for nowhere.invalid"):
        server_addresses("nowhere.invalid", 443)


def test_it_refuses_a_misspelt_allowed_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import env_cidrs

    monkeypatch.setenv("RAMPART_ALLOWED_SERVER_CIDRS", "169.254.10.0/24, 10.0.0.0/33")
    with pytest.raises(ImproperlyConfigured, match=r"'10.0.0.0/33' is not a network"):
        env_cidrs("RAMPART_ALLOWED_SERVER_CIDRS")


@pytest.mark.django_db
def test_it_refuses_to_register_a_name_that_resolves_to_the_metadata_service(answers: Any) -> None:
    answers("kube.internal.example", ["169.254.169.254"])

    with pytest.raises(RegistrationError, match=r"address is refused.*metadata"):
        cluster_register(
            name="sneaky",
            source_kind=Cluster.SourceKind.KUBECONFIG,
            kubeconfig=kubeconfig(server="https://kube.internal.example:6443"),
        )
    assert not Cluster.objects.exists()


@pytest.mark.django_db
def test_it_registers_a_name_it_cannot_resolve_and_checks_it_when_connecting() -> None:
    cluster = cluster_register(
        name="private-dns",
        source_kind=Cluster.SourceKind.KUBECONFIG,
        kubeconfig=kubeconfig(server="https://kube.corp.invalid:6443"),
        collect=False,
    )
    assert cluster.api_server == "https://kube.corp.invalid:6443"


def test_it_never_connects_to_a_stored_metadata_address() -> None:
    with FakeApiServer(cluster_objects()) as server:
        # As a row registered before the policy would hold it: the port is the fake server's.
        credentials = Credentials(server=f"http://2852039166:{server.port}", token="test-token")
        with pytest.raises(kube.ServerRefused, match="metadata"):
            kube.collect(credentials, resources=CORE)

    assert server.requests == []


def test_it_refuses_a_stored_server_url_with_a_password() -> None:
    credentials = Credentials(server="https://admin:pw@127.0.0.1:6443", token="test-token")

    with pytest.raises(kube.KubeError, match="user name or password") as raised:
        kube.collect(credentials, resources=CORE)
    assert ":pw@" not in str(raised.value)


def test_it_connects_to_the_address_it_checked_when_dns_rebinds(answers: Any) -> None:
    """First answer 127.0.0.1 (checked, used); every later one the metadata service."""
    with FakeApiServer(cluster_objects()) as server:
        asked = answers("rebind.test", ["127.0.0.1", "169.254.169.254"])
        credentials = Credentials(server=f"http://rebind.test:{server.port}", token="test-token")
        inventory = kube.collect(credentials, resources=CORE)

    # One lookup for the whole collection: urllib3 never resolved the name again.
    assert inventory.has("pods") and inventory.has("nodes")
    assert len([line for line in server.requests if "/api/v1/" in line]) == len(CORE)
    # The anonymous probe is a new connection: it looked again, was answered 169.254.169.254,
    # and was refused rather than sent.
    assert asked == ["rebind.test", "rebind.test"]
    assert inventory.anonymous_probe is None


def test_it_verifies_tls_against_the_name_while_connecting_to_the_ip(
    tmp_path: Path, answers: Any
) -> None:
    pki = Pki(tmp_path)  # the server certificate names api.rampart.test, not 127.0.0.1
    answers("api.rampart.test", ["127.0.0.1"])
    answers("impostor.rampart.test", ["127.0.0.1"])
    with FakeApiServer(cluster_objects(), tls=pki.server_context()) as server:
        named = pki.credentials(f"https://api.rampart.test:{server.port}", tls_server_name=None)
        inventory = kube.collect(named, resources=CORE)
        other = pki.credentials(
            f"https://impostor.rampart.test:{server.port}", tls_server_name=None
        )
        with pytest.raises(kube.KubeError, match=r"'impostor.rampart.test' doesn't match"):
            kube.collect(other, resources=CORE)

    assert inventory.has("pods")
    assert inventory.anonymous_probe == {"/version": 200, "/api": 403}
