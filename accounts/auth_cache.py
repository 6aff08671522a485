"""A signed-in user's permissions and groups, from the shared cache between changes.

Django's ModelBackend reads a user's permissions with two queries (the user's own, the groups')
and keeps them on the user object for one request only; the role shown in the navigation takes
a third. Every page asks, so CachedPermissionsMiddleware puts them on request.user from the
shared cache (config.shared_cache: the version read once per request, entries kept in the
process too). They are keyed by the user, whether the user is a superuser (a superuser holds
every permission) and an auth version that any change to a user's groups or permissions, a
group's permissions, a group or a permission bumps (signals, connected in AccountsConfig).
Writes that bypass the ORM's signals (raw SQL, QuerySet.update on the through tables) are
picked up after RAMPART_PAGE_CACHE_SECONDS at most.

The user row itself is still read on every request: is_active, is_superuser and the password
hash (which verifies the session) never come from the cache. A cache that cannot be reached
leaves the permissions to ModelBackend's queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from config.shared_cache import entry_get, entry_set, versions, versions_replace

logger = logging.getLogger(__name__)

VERSION_KEY = "auth:version"
_ERRORS = (OSError, RedisError)


def permissions_load(user: Any) -> None:
    """Put the user's permissions (as ModelBackend keeps them) and group names on `user`."""
    if not user.is_authenticated or not user.is_active:
        return
    try:
        (version,) = versions([VERSION_KEY])
        key = f"auth:{version}:{user.pk}:{int(user.is_superuser)}"
        found = entry_get(key)
    except _ERRORS:
        logger.warning("cache unreachable; permissions read from the database", exc_info=True)
        return
    if found is None:
        backend = ModelBackend()
        found = {
            "user": backend.get_user_permissions(user),
            "group": backend.get_group_permissions(user),
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
        try:
            entry_set(key, found, seconds=settings.RAMPART_PAGE_CACHE_SECONDS)
        except _ERRORS:
            logger.warning("cache unreachable; permissions not kept", exc_info=True)
    # The attributes ModelBackend reads before it queries (django.contrib.auth.backends).
    user._user_perm_cache = set(found["user"])
    user._group_perm_cache = set(found["group"])
    user._perm_cache = user._user_perm_cache | user._group_perm_cache
    user.group_names = list(found["groups"])


def permissions_changed(**kwargs: Any) -> None:
    """Some user's permissions may have changed: every cached set is read afresh."""
    try:
        versions_replace([VERSION_KEY])
    except _ERRORS:
        logger.error("cache unreachable; permissions may lag this change", exc_info=True)


class CachedPermissionsMiddleware:
    """After AuthenticationMiddleware: the user's permissions from the shared cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        permissions_load(request.user)
        return self.get_response(request)
