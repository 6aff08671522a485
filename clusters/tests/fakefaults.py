"""Misbehaving API servers: fault modes for the fake API server (clusters/tests/fakeapi.py).

`FakeApiServer(faults={"pods": trickle()})` answers every request whose path is, or lists,
that key with the fault instead of the usual answer; "*" matches every path. A fault writes
to the socket itself, so it can break HTTP as a real server, proxy or network would: trickle a
body, never end a chunked one, declare a gigabyte, drop the connection mid-body. A fault that
returns False lets the request through to the normal answer (503 once, then OK).

Each fault counts what it sent (`sent`, `served`), so tests can show the client stopped early.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from clusters.resources import Resource

HTML = (
    b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
    b"<body><form action='/login'>Corporate proxy: sign in</form></body></html>"
)


class Fault:
    """Answers a request in some broken way; subclasses implement `answer`."""

    def __init__(self) -> None:
        self.served = 0  # requests answered with the fault
        self.sent = 0  # body bytes written
        self._lock = threading.Lock()

    def __call__(
        self, handler: BaseHTTPRequestHandler, resource: Resource | None, query: dict[str, str]
    ) -> bool:
        with self._lock:
            self.served += 1
            count = self.served
        handler.close_connection = True
        return self.answer(handler, resource, query, count)

    def answer(
        self,
        handler: BaseHTTPRequestHandler,
        resource: Resource | None,
        query: dict[str, str],
        count: int,
    ) -> bool:
        raise NotImplementedError

    def write(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        with self._lock:
            self.sent += len(data)


def _head(
    handler: BaseHTTPRequestHandler, code: int, headers: dict[str, str], *, keep: bool = False
) -> None:
    handler.send_response(code)
    for name, value in headers.items():
        handler.send_header(name, value)
    if not keep:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.flush()


def _list_head(resource: Resource | None) -> bytes:
    kind = f"{resource.kind}List" if resource else "List"
    version = resource.api_version if resource else "v1"
    return b'{"kind":"' + kind.encode() + b'","apiVersion":"' + version.encode() + b'","items":['


def _item(index: int) -> bytes:
    return orjson.dumps({"metadata": {"name": f"item-{index}", "namespace": "default"}})


class Answer(Fault):
    """A fixed answer: a status, a body, headers (a 404 /version, HTML, garbage)."""

    def __init__(
        self,
        code: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.code, self.body, self.content_type = code, body, content_type
        self.headers = dict(headers or {})

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        headers = {"Content-Type": self.content_type, "Content-Length": str(len(self.body))}
        _head(handler, self.code, {**headers, **self.headers})
        self.write(handler, self.body)
        return True


class Flaky(Answer):
    """`times` failures (429 or 503, with Retry-After), then the normal answer."""

    def __init__(self, code: int, *, times: int, retry_after: str | None = "1") -> None:
        from clusters.tests.fakeapi import status_body

        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        super().__init__(code, status_body(code, "please slow down"), headers=headers)
        self.times = times

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        if count > self.times:
            handler.close_connection = False
            return False
        return super().answer(handler, resource, query, count)


class Trickle(Fault):
    """A body whose every byte arrives inside the read timeout, and which takes forever."""

    def __init__(self, *, interval: float = 0.2, length: int = 100_000) -> None:
        super().__init__()
        self.interval, self.length = interval, length

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        headers = {"Content-Type": "application/json", "Content-Length": str(self.length)}
        _head(handler, 200, headers)
        body = _list_head(resource)
        for index in range(self.length):
            self.write(handler, body[index : index + 1] or b" ")
            time.sleep(self.interval)
        return True


class SlowHeaders(Fault):
    """A status line, then header bytes trickled in forever: no body is ever reached."""

    def __init__(self, *, interval: float = 0.2) -> None:
        super().__init__()
        self.interval = interval

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while True:
            self.write(handler, b"a")
            time.sleep(self.interval)


class EndlessContinue(Fault):
    """Every page of a list has one item and a fresh continue token (or always the same)."""

    def __init__(self, *, same_token: bool = False) -> None:
        super().__init__()
        self.same_token = same_token

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        token = "same" if self.same_token else uuid.uuid4().hex
        body = _list_head(resource)[: -len(b'"items":[')]
        body += b'"metadata":{"continue":"' + token.encode() + b'"},"items":['
        body += _item(count) + b"]}"
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        _head(handler, 200, headers, keep=True)
        handler.close_connection = False
        self.write(handler, body)
        return True


class EndlessChunked(Fault):
    """A chunked list body that never ends: items, items, items."""

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        _head(handler, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        chunk = _list_head(resource)
        index = 0
        while True:
            self.write(handler, b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunk = b",".join(_item(index + n) for n in range(200)) + b","
            index += 200


class HugeBody(Fault):
    """A body declared (or not) at `length` bytes, streamed until the client hangs up."""

    def __init__(self, *, length: int = 1_200_000_000, declare: bool = True) -> None:
        super().__init__()
        self.length, self.declare = length, declare

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        headers = {"Content-Type": "application/json"}
        if self.declare:
            headers["Content-Length"] = str(self.length)
        _head(handler, 200, headers)
        block = _list_head(resource) + b" " * (1024 * 1024 - len(_list_head(resource)))
        while self.sent < self.length:
            self.write(handler, block)
            block = b" " * len(block)
        return True


class GzipBomb(Fault):
    """A small gzip body that expands to `expanded` bytes of whitespace."""

    def __init__(self, *, expanded: int = 64 * 1024 * 1024) -> None:
        super().__init__()
        self.body = gzip.compress(b"[" + b" " * expanded + b"]", compresslevel=9)

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(self.body)),
        }
        _head(handler, 200, headers)
        self.write(handler, self.body)
        return True


class ResetMidBody(Fault):
    """Headers promising a body, part of it, then a TCP reset."""

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        _head(handler, 200, {"Content-Type": "application/json", "Content-Length": "100000"})
        self.write(handler, _list_head(resource) + _item(1))
        # SO_LINGER 0: close() sends RST rather than FIN, as a crashing proxy does.
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        return True


class WrongKind(Fault):
    """A list of something else: pods asked for, a ServiceList answered."""

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        body = orjson.dumps(
            {
                "kind": "ServiceList",
                "apiVersion": "v1",
                "metadata": {},
                "items": [{"metadata": {"name": "kubernetes", "namespace": "default"}}],
            }
        )
        _head(handler, 200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        self.write(handler, body)
        return True


class NotHttp(Fault):
    """Something that is not an HTTP server answering on the port."""

    def answer(
        self, handler: Any, resource: Resource | None, query: dict[str, str], count: int
    ) -> bool:
        self.write(handler, b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n")
        return True
