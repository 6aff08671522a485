"""Versions are read once per request and entries are kept in the process, never longer than
they would live in the shared cache and never past a write.

The pages' own tests (test_page_cache*.py) show a write reaching the next page through the
real services, here and from a worker process; these pin the two shortcuts underneath.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from clusters.page_cache import page_data_changed
from compliance.tests.factories import evaluated_cluster
from config import shared_cache
from config.shared_cache import (
    entry_get,
    entry_set,
    process_entries_clear,
    versions,
    versions_replace,
)

KEY = "test:version"


@pytest.fixture
def in_a_request():
    """As RequestVersionsMiddleware opens and closes a request."""
    token = shared_cache._request_versions.set({})
    yield
    shared_cache._request_versions.reset(token)


def test_a_request_reads_a_version_once(in_a_request):
    (first,) = versions([KEY])
    cache.set(KEY, "another process's write")  # lands after this request read the version
    assert versions([KEY]) == [first]  # one request sees one state of the pages


def test_the_next_request_reads_it_afresh(in_a_request):
    (first,) = versions([KEY])
    cache.set(KEY, "another process's write")
    token = shared_cache._request_versions.set({})
    try:
        assert versions([KEY]) == ["another process's write"]
    finally:
        shared_cache._request_versions.reset(token)
    assert first != "another process's write"


def test_a_request_reads_its_own_write(in_a_request):
    (first,) = versions([KEY])
    versions_replace([KEY])
    (second,) = versions([KEY])
    assert second != first
    assert cache.get(KEY) == second


def test_outside_a_request_every_read_asks_the_cache():
    (first,) = versions([KEY])
    cache.set(KEY, "changed")
    assert versions([KEY]) == ["changed"] != [first]


def test_an_entry_is_served_from_the_process_once_read():
    value = {"rows": [1, 2, 3]}
    entry_set("test:entry", value, seconds=60)
    cache.delete("test:entry")  # the shared copy evicted
    assert entry_get("test:entry") is value
    process_entries_clear()
    assert entry_get("test:entry") is None


def test_another_process_reads_the_shared_copy():
    entry_set("test:entry", {"rows": [1]}, seconds=60)
    process_entries_clear()  # as a process that never read it
    assert entry_get("test:entry") == {"rows": [1]}


def test_an_entry_expires_in_the_process_when_it_expires_in_the_cache(monkeypatch):
    now = 1_000_000.0
    monkeypatch.setattr(shared_cache.time, "time", lambda: now)
    entry_set("test:entry", "rows", seconds=60)
    now += 59
    assert entry_get("test:entry") == "rows"
    now += 1
    assert entry_get("test:entry") is None


def test_a_process_keeps_a_bounded_number_of_entries(settings):
    settings.RAMPART_CACHE_PROCESS_ENTRIES = 2
    for name in ("a", "b", "c"):
        entry_set(f"test:{name}", name, seconds=60)
    cache.clear()
    assert [entry_get(f"test:{name}") for name in ("a", "b", "c")] == [None, "b", "c"]


@pytest.mark.django_db
def test_a_write_between_requests_shows_on_the_next_page(engineer):
    """The fleet page's data is kept in this process; a write bumps the version, so the next
    request builds it afresh (here: the cluster deleted behind the services' back, then the
    bump a service would make)."""
    cluster = evaluated_cluster()
    url = reverse("fleet")
    assert [row["name"] for row in engineer.get(url).context["rows"]] == [cluster.name]
    type(cluster).objects.filter(pk=cluster.pk).update(name="renamed")
    assert [row["name"] for row in engineer.get(url).context["rows"]] == [cluster.name]
    page_data_changed(cluster_id=cluster.pk)
    assert [row["name"] for row in engineer.get(url).context["rows"]] == ["renamed"]
