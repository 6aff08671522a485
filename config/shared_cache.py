"""Version tokens and the entries keyed by them, in the shared cache and in each process.

Two modules keep data between writes in Django's default cache: clusters.page_cache (what the
fleet, cluster and checklist pages show) and accounts.auth_cache (who may see them). Both key
an entry by version tokens that every write they care about replaces with a new random token,
so an entry's key, once written, always means the same value. That lets each process keep
what it read, unpickled, without asking the shared cache again:

    (version,) = versions(["page-data:version:fleet"])    # once per request, then remembered
    entry_get(f"fleet:{version}") / entry_set(..., seconds=120)
    versions_replace(["page-data:version:fleet"])         # in the write's service

Why per request: a version read once serves every lookup of one request (a page asks for its
data, its summary and the reader's permissions), and the next request reads it afresh, so a
write in any process shows on the next page anywhere. Outside a request (a worker, a command)
every call reads the shared cache. Why random tokens: an evicted or cleared version can never
be recounted to a value that keys old entries.

Entries carry their deadline: an entry expires at the same moment in every process however
late a process read it, which bounds what a write outside the services could leave stale and
the relative times ("3 hours ago") frozen into a page. What `entry_get` returns is shared by
every later request of the process: callers copy before they change anything in it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

_request_versions: ContextVar[dict[str, str] | None] = ContextVar("versions", default=None)


def versions(keys: Sequence[str]) -> list[str]:
    """The current token of each version key, creating the ones the cache does not hold."""
    memo = _request_versions.get()
    known = {} if memo is None else memo  # the request's memo, filled in place
    missing = [key for key in keys if key not in known]
    if missing:
        known.update(cache.get_many(missing))
        for key in missing:
            if key not in known:
                # add, not set: two processes meeting a missing version agree on one.
                cache.add(key, uuid.uuid4().hex, timeout=None)
                known[key] = cache.get(key) or uuid.uuid4().hex
    return [known[key] for key in keys]


def versions_replace(keys: Sequence[str]) -> None:
    """New tokens for these keys: every entry keyed by the old ones is never read again."""
    tokens = {key: uuid.uuid4().hex for key in keys}
    cache.set_many(tokens, timeout=None)
    memo = _request_versions.get()
    if memo is not None:
        memo.update(tokens)  # the request that wrote reads its own write


class _Entries:
    """The process's copies of entries it read or wrote, least recently used dropped first."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, *, now: float) -> Any:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            if found[0] <= now:
                del self._kept[key]
                return None
            self._kept.move_to_end(key)
            return found[1]

    def put(self, key: str, deadline: float, value: Any) -> None:
        with self._lock:
            self._kept[key] = (deadline, value)
            self._kept.move_to_end(key)
            while len(self._kept) > settings.RAMPART_CACHE_PROCESS_ENTRIES:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


_entries = _Entries()


def entry_get(key: str) -> Any:
    """The value kept under `key` (this process's copy, else the shared cache's), or None."""
    now = time.time()
    found = _entries.get(key, now=now)
    if found is not None:
        return found
    stored = cache.get(key)
    if not (isinstance(stored, tuple) and len(stored) == 2) or stored[0] <= now:
        return None
    _entries.put(key, stored[0], stored[1])
    return stored[1]


def entry_set(key: str, value: Any, *, seconds: int) -> None:
    """Keep `value` under `key` for `seconds`, in the shared cache and in this process."""
    deadline = time.time() + seconds
    cache.set(key, (deadline, value), timeout=seconds)
    _entries.put(key, deadline, value)


def process_entries_clear() -> None:
    """Forget this process's copies (the shared cache is untouched)."""
    _entries.clear()


class RequestVersionsMiddleware:
    """Versions are read once per request: the first lookup reads, later ones remember."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request_versions.set({})
        try:
            return self.get_response(request)
        finally:
            _request_versions.reset(token)
