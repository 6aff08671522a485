"""What the fleet, cluster and checklist pages read, kept in the shared cache between writes.

    rows = page_cached("fleet", parts=(filters, page), build=lambda: ...)       # fleet-wide
    posture = page_cached("cluster", cluster_id=cluster.pk, build=lambda: ...)  # one cluster
    page_data_changed(cluster_id=cluster.pk)     # in every service that changes what they show

The pipeline stores one verdict per collection and pages only read it, so a page's data
changes only when a service writes: a new evaluation, a re-derive (waiver or attestation
change), a run changing state, a cluster registered, edited or deleted. Each of those calls
`page_data_changed`, which after commit gives the cluster and the fleet a new random version;
cached entries are keyed by the versions current when they were read, so an entry built
before a write is never read after it. Why after commit: a request that reads the new version
must also see the new rows. A request that read the old version and stored what it built after
the bump stored it under a key nobody asks for again.

Versions are random tokens, not counters, so an evicted or cleared version can never be
recounted to a value that keys old entries. Entries also expire after
RAMPART_PAGE_CACHE_SECONDS, which bounds what a write outside these services (an admin's SQL,
a restored backup) or an unreachable cache during a bump could leave stale, and bounds the
relative times ("3 hours ago") frozen into the data. Keys also carry a digest of the code that
builds the data, so a deploy never unpickles another version's shapes.

The cache is Django's default cache (config/settings.py CACHES): Redis in production, a
file-based cache on the embedded default, so every web process shares one copy. What is cached
is data, never HTML with a CSRF token or a user's name; access checks run before every read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from functools import cache as memoized
from pathlib import Path

from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from config.shared_cache import entry_get, entry_set, versions, versions_replace

logger = logging.getLogger(__name__)

FLEET = "fleet"
_PREFIX = "page-data"
_DATA_APPS = ("clusters", "posture", "compliance")  # the code whose output is cached
# A cache that cannot be reached serves no page stale: the page is built as without a cache.
CACHE_ERRORS = (OSError, RedisError)


@memoized
def code_digest() -> str:
    """A digest of the modules, guides and templates that build cached data and fragments
    (read once per process)."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for app in _DATA_APPS:
        for path in sorted((root / app).rglob("*")):
            if path.suffix in (".py", ".yaml", ".html") and "tests" not in path.parts:
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _version_key(scope: str) -> str:
    return f"{_PREFIX}:version:{scope}"


def _scope(cluster_id: int | None) -> str:
    return FLEET if cluster_id is None else f"cluster-{cluster_id}"


def page_cached[T](
    name: str,
    *,
    build: Callable[[], T],
    cluster_id: int | None = None,
    parts: Iterable[object] = (),
    keep: Callable[[T], bool] = lambda _: True,
) -> T:
    """`build()`'s result for this page, from the cache while nothing it reads has changed.

    A cluster's data is keyed by that cluster's version, fleet data by the fleet's (which
    every cluster's change bumps). `parts` tell apart variants of one page (filters, page).
    A value `keep` refuses is served once and not kept (it may change without a write).
    """
    scope = _scope(cluster_id)
    try:
        (version,) = versions([_version_key(scope)])
    except CACHE_ERRORS:
        logger.warning("page cache unreachable; building %s without it", name, exc_info=True)
        return build()
    variant = hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()[:16]
    key = f"{_PREFIX}:{code_digest()}:{name}:{scope}:{version}:{variant}"
    try:
        found = entry_get(key)
    except CACHE_ERRORS:
        found = None
    if found is not None:
        return found  # type: ignore[no-any-return]
    value = build()
    if not keep(value):
        return value
    try:
        entry_set(key, value, seconds=settings.RAMPART_PAGE_CACHE_SECONDS)
    except CACHE_ERRORS:
        logger.warning("page cache unreachable; %s not kept", name, exc_info=True)
    return value


def page_data_changed(*, cluster_id: int | None = None) -> None:
    """What the pages show of this cluster (and so of the fleet) changes when this commits.

    Call inside the transaction of the write, or outside any. The versions change now and
    again after commit: the second is the one correctness rests on (a request that reads it
    sees the committed rows); the first lets code inside one long transaction (a management
    command, a test) read its own writes through the pages.
    """
    scopes = [FLEET] if cluster_id is None else [FLEET, _scope(cluster_id)]

    def bump() -> None:
        try:
            versions_replace([_version_key(scope) for scope in scopes])
        except CACHE_ERRORS:
            # Entries expire after RAMPART_PAGE_CACHE_SECONDS: stale at most that long.
            logger.error("page cache unreachable; pages may lag this change", exc_info=True)

    bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(bump)


def cluster_saved_or_deleted(sender: type, instance: object, **kwargs: object) -> None:
    """A cluster registered, edited (the admin too) or deleted changes the fleet's rows.

    Connected in ClustersConfig.ready for Cluster's post_save and post_delete: deletions come
    from the admin and cascades, which no service of ours sees.
    """
    page_data_changed(cluster_id=getattr(instance, "pk", None))


def cluster_row_saved_or_deleted(sender: type, instance: object, **kwargs: object) -> None:
    """One of a cluster's owners, its provider link or an upload saved or deleted changes the
    cluster page (clusters.rows.cluster_rows). Connected in ClustersConfig.ready."""
    page_data_changed(cluster_id=getattr(instance, "cluster_id", None))
