"""Credentials never leave Rampart: `redact()` for any text a person or a log may see.

Errors come from many layers (the HTTP client quoting a header it refused, a proxy echoing a
request, a parser quoting a line), so known secrets are not enough: anything shaped like a
credential is masked too. Applied to every error stored on a run (`last_error`, `kind_errors`)
and, through `RedactingFilter`, to every log record Rampart's handlers write.

Pure: no Django, so the logging configuration can load it before the apps.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

MASK = "***"
# A fragment of a known secret shorter than this is too likely to be an ordinary word.
_MIN_FRAGMENT = 8

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks (keys, certificates): the whole block, even when its END line was cut off.
    (
        re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----.*?(?:-----END \1-----|\Z)", re.S),
        r"-----BEGIN \1----- " + MASK + r" -----END \1-----",
    ),
    # Base64 of a PEM block, as in `client-key-data`: "-----BEGIN" encodes to "LS0tLS1CRUdJTi".
    (re.compile(r"LS0tLS1CRUdJT[A-Za-z0-9+/=\\]*"), MASK),
    # JSON Web Tokens (service-account tokens, OIDC id tokens): header.payload.signature.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    # An Authorization header value, however it is quoted: `Bearer x`, b'Bearer x\ny'.
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s'\",;)\]}]+"), r"\1\2" + MASK),
    # `user:password@` (or a bare token) in a URL's authority.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,20}://)[^/\s@'\"]+@"), r"\1" + MASK + "@"),
    # key: value and key=value for credential-named keys.
    (
        re.compile(
            r"(?i)\b(token|password|passwd|secret|api[_-]?key|authorization|client-key-data)"
            r"(['\"]?\s*[:=]\s*['\"]?)(?!\*\*\*)[^\s'\",;)\]}]+"
        ),
        r"\1\2" + MASK,
    ),
    # Kubernetes bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}.
    (re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"), MASK),
)


def redact(text: str, *, secrets: Iterable[str | None] = ()) -> str:
    """`text` with known `secrets` and anything credential-shaped replaced by ***."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = _mask_secret(text, secret)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _mask_secret(text: str, secret: str) -> str:
    # The secret itself, its escaped form (a repr of bytes or a str quotes \n as two characters)
    # and each of its lines: a token pasted over two lines leaks line by line.
    forms = {secret, secret.encode("unicode_escape").decode("ascii", "replace")}
    forms.update(part for part in re.split(r"\s+|\\[nrt]", secret) if len(part) >= _MIN_FRAGMENT)
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= min(_MIN_FRAGMENT, len(secret)):
            text = text.replace(form, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record's message and traceback through `redact()`.

    Installed on the handlers (settings.LOGGING and Celery's, see config/celery.py) rather than
    on loggers: a logger's filters apply only to records logged on that very logger, not to
    those its children propagate, while every record ends at a handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call (wrong arguments) must still be logged
            message = str(record.msg)
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
