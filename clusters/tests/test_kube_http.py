"""The pieces of bounded reads that need no server: Retry-After and one-line reasons."""

from __future__ import annotations

import ssl
from email.utils import formatdate
from time import time

from urllib3.exceptions import MaxRetryError, ResponseError, SSLError

from clusters.kube_http import describe, retry_after, tls_misconfiguration


def test_it_reads_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("7") == 7
    assert 58 <= retry_after(formatdate(time() + 60, usegmt=True)) <= 60
    assert retry_after(formatdate(time() - 60, usegmt=True)) == 0
    assert retry_after(None) == 1  # absent or unreadable: a short pause, not none
    assert retry_after("soon") == 1


def test_it_names_a_certificate_problem_in_one_line() -> None:
    expired = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] (_ssl.c:1000)")
    expired.verify_code, expired.verify_message = 10, "certificate has expired"
    wrapped = MaxRetryError(None, "/version", SSLError(expired))  # type: ignore[arg-type]

    reason = describe(wrapped, 30)

    assert reason == (
        "the server's certificate has expired (certificate verify failed: certificate has expired)"
    )
    assert tls_misconfiguration(wrapped)


def test_it_says_what_urllib3_gave_up_on_without_its_pool_noise() -> None:
    exhausted = MaxRetryError(None, "/api/v1/pods", ResponseError("too many 503 error responses"))  # type: ignore[arg-type]

    assert describe(exhausted, 30) == "too many 503 error responses"
    assert not tls_misconfiguration(exhausted)
