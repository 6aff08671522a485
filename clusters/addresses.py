"""Which API server addresses Rampart may connect to, in every spelling.

Rampart connects with credentials to whatever server a kubeconfig names, from inside the
network it runs in. A server at the cloud metadata address would hand the worker's own cloud
credentials to whoever registered it; link-local, unspecified, multicast and broadcast
addresses are never an API server either. Loopback and private ranges stay allowed (most API
servers are private), and an administrator may allow more with RAMPART_ALLOWED_SERVER_CIDRS.

Spellings are judged the way the operating system will read them, not the way they look:
`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376` and `[::ffff:169.254.169.254]` are all
169.254.169.254 to the C library, so literals go through getaddrinfo(AI_NUMERICHOST) and
names through a real resolution whose every answer is checked. The connect-time caller
(clusters/kube.py) then connects to the address it checked, so a DNS answer that changes
between check and connect (rebinding) cannot win.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that reach an instance metadata service whatever the network says (GCP, AWS, Azure,
# Alibaba, Tencent, OpenStack), refused even when they do not resolve here.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
# Metadata services outside the link-local range, which is refused as a whole anyway.
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.169.254/32",  # AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
        "169.254.170.2/32",  # AWS ECS task metadata
        "fd00:ec2::254/128",  # AWS IMDS over IPv6 (a unique-local, "private", address)
        "100.100.100.200/32",  # Alibaba Cloud (carrier-grade NAT range)
        "192.0.0.192/32",  # Oracle Cloud (legacy)
    )
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(ValueError):
    """The server's address is one Rampart never connects to; the message says which kind."""


class AddressUnresolved(OSError):
    """The server's name does not resolve (here, now); the message names the host only."""


def server_addresses(host: str, port: int, *, resolve: bool = True) -> list[str]:
    """The addresses `host` stands for, every one checked; raises AddressRefused.

    A literal (in any spelling the C library accepts) is checked without DNS. A name is refused
    when it is a metadata name, else resolved (unless `resolve` is False) and refused when any
    answer is refused: a name with one bad answer is a rebinding attempt, not a fallback.
    Raises AddressUnresolved when a name does not resolve.
    """
    name = host.strip("[]").rstrip(".").lower()
    literal = literal_address(name)
    if literal is not None:
        _check(literal, host)
        return [str(literal)]
    if name in METADATA_NAMES:
        raise AddressRefused(f"{host} is a cloud metadata service name, never an API server")
    if not resolve:
        return []
    try:
        answers = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressUnresolved(f"DNS lookup failed for {host}") from exc
    addresses: list[str] = []
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        _check(address, f"{host} (resolves to {address})")
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise AddressUnresolved(f"DNS lookup failed for {host}")
    return addresses


def literal_address(host: str) -> IPAddress | None:
    """The address a literal stands for (`2852039166` is 169.254.169.254), or None for a name."""
    host = host.strip("[]")
    bare, _, _zone = host.partition("%")  # fe80::1%eth0: the zone names an interface
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not bare or not all(c.isalnum() or c in ".:" for c in bare):
        return None
    try:
        answers = socket.getaddrinfo(bare, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(answers[0][4][0]).partition("%")[0]) if answers else None


def refusal(address: IPAddress) -> str | None:
    """Why Rampart never connects to `address`, or None when it may."""
    if any(address in network for network in allowed_networks()):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded)
        if reason:
            return f"{reason} (embedded in {address})"
    if any(address in network for network in METADATA_NETWORKS):
        return "a cloud metadata service address"
    if address.is_unspecified or (address.version == 4 and address in _THIS_NETWORK):
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address == _BROADCAST:
        return "the broadcast address"
    if address.version == 4 and address.is_reserved:
        return "a reserved address"
    return None


def _check(address: IPAddress, shown: str) -> None:
    reason = refusal(address)
    if reason:
        raise AddressRefused(
            f"{shown} is {reason}, never an API server "
            "(an administrator may allow a range with RAMPART_ALLOWED_SERVER_CIDRS)"
        )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _NAT64:
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d, the deprecated "compatible" form
        return ipaddress.IPv4Address(packed)
    return None


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _networks(tuple(settings.RAMPART_ALLOWED_SERVER_CIDRS))


@lru_cache(maxsize=8)
def _networks(
    cidrs: Sequence[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)
