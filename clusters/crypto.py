"""Credentials at rest: MultiFernet over the keys in RAMPART_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a new key can be put in front and old data
re-encrypted later with `manage.py rotate_encryption_keys`. With no key configured, a key is
derived from SECRET_KEY so a laptop install works; system check rampart.W002 says so and
`check --deploy` refuses it.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsUnreadable(Exception):
    """No configured key decrypts the stored credentials (a key was removed too early)."""


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"rampart-credentials:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    del secret_key  # part of the cache key only: a changed SECRET_KEY changes the derived key
    try:
        fernets = [Fernet(key.encode()) for key in keys] if keys else [Fernet(_derived_key())]
    except ValueError as exc:
        raise ImproperlyConfigured(
            "RAMPART_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(generate one with `python manage.py generate_encryption_key`)"
        ) from exc
    return MultiFernet(fernets)


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.RAMPART_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: bytes) -> bytes:
    return fernet().encrypt(plaintext)


def decrypt(token: bytes) -> bytes:
    try:
        return fernet().decrypt(bytes(token))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "the stored credentials cannot be decrypted with any configured key; "
            "restore the old key in RAMPART_ENCRYPTION_KEYS or register the cluster again"
        ) from exc


def rotate(token: bytes) -> bytes:
    try:
        return fernet().rotate(bytes(token))
    except InvalidToken as exc:
        raise CredentialsUnreadable("no configured key decrypts these credentials") from exc


def key_fingerprints() -> list[str]:
    """Short identifiers of the configured keys, first (encrypting) key first; not secret.

    Backups record them, so a restore can say which keys the credentials it holds need.
    """
    keys = [key.encode() for key in settings.RAMPART_ENCRYPTION_KEYS] or [_derived_key()]
    return [hashlib.sha256(b"rampart-key-fingerprint:" + key).hexdigest()[:16] for key in keys]


def generate_key() -> str:
    return Fernet.generate_key().decode()
