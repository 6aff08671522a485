"""Real PEM material for kubeconfigs in tests: registration parses certificates and keys."""

from __future__ import annotations

import base64
import datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@cache
def _key(name: str) -> ec.EllipticCurvePrivateKey:
    del name  # one key per name, cached for the session
    return ec.generate_private_key(ec.SECP256R1())


@cache
def certificate_pem(name: str = "rampart-test-ca") -> bytes:
    """A self-signed certificate for `name`, as PEM."""
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(_key(name).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(_key(name), hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(name: str = "rampart-test-ca") -> bytes:
    """The private key of `certificate_pem(name)`, as unencrypted PKCS#8 PEM."""
    return _key(name).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
