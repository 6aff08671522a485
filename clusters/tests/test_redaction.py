"""redact() masks whatever looks like a credential; the log filter applies it to every record."""

from __future__ import annotations

import io
import logging

import pytest

from clusters.redaction import RedactingFilter, redact
from clusters.tests.pem import b64, key_pem

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0."
    "c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw"
)
TOKEN = "static-token-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Invalid header value b'Bearer {TOKEN}\\nmore'", TOKEN),
        (f"Authorization: Bearer {TOKEN}", TOKEN),
        (f"Authorization: Basic {TOKEN}", TOKEN),
        (f"token={TOKEN}&x=1", TOKEN),
        (f'{{"token": "{TOKEN}"}}', TOKEN),
        (f"password: {TOKEN}", TOKEN),
        (f"the reply quoted {JWT} back", JWT),
        ("cannot reach https://admin:hunter2-password@kube.example.com:6443", "hunter2-password"),
        ("cannot reach https://single-token-as-user@kube.example.com", "single-token-as-user"),
        ("bootstrap abcdef.0123456789abcdef failed", "0123456789abcdef"),
        (key_pem("redaction").decode(), "PRIVATE KEY-----\nMI"),
        (f"client-key-data: {b64(key_pem('redaction'))}", b64(key_pem("redaction"))[:40]),
    ],
)
def test_it_masks_credential_shaped_text(text: str, secret: str) -> None:
    redacted = redact(text)

    assert secret not in redacted
    assert "***" in redacted


def test_it_masks_a_known_secret_however_it_was_split_or_escaped() -> None:
    secret = "first-half-of-it\nsecond-half-of-it"
    text = f"got {secret!r} and first-half-of-it alone, then second-half-of-it"

    redacted = redact(text, secrets=[secret, None, ""])

    assert "first-half-of-it" not in redacted
    assert "second-half-of-it" not in redacted


def test_it_keeps_ordinary_messages_intact() -> None:
    for message in (
        "listing pods: continue token expired, starting over",
        "pods: 3 of 10 pods could not be judged and were left out",
        "cannot reach the API server at https://kube.example.com:6443: timed out after 30s",
        "the `token` of user 'reader' contains a line break",
    ):
        assert redact(message) == message


def test_it_redacts_log_records_and_their_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("clusters.tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET failed: %s", f"Bearer {TOKEN}")
        try:
            raise ValueError(f"header b'Bearer {TOKEN}'")
        except ValueError:
            logger.exception("https://admin:hunter2-password@kube.example.com crashed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    written = stream.getvalue()
    assert TOKEN not in written
    assert "hunter2-password" not in written
    assert "ValueError" in written and "Traceback" in written


def test_it_filters_the_configured_console_handler() -> None:
    console = logging.getHandlerByName("console")

    assert console is not None
    assert any(isinstance(f, RedactingFilter) for f in console.filters)
