"""A planted token and URL password appear nowhere: pages (every role), logs, stored errors,
exports, command output, Celery messages, a real worker's log.

Planted the ways they leaked before: a token written over two lines (a YAML literal block) and
a `user:password@` server URL, both tried through the register form and stored as rows
registered before registration refused them would be; and both quoted in an evidence bundle's
collection-errors.txt, which ends up in the run's errors and in check summaries.
"""

from __future__ import annotations

import html
import io
import logging
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import pytest
from celery import signals
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from clusters import crypto
from clusters.kubeconfig import Credentials
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register, collection_request
from clusters.tests import hostile_bundles as hostile
from clusters.tests.fakeapi import FakeApiServer
from clusters.tests.hostile_kubeconfigs import kubeconfig
from pipeline.collection import collection_execute

TOKEN_LINES = ("planted-token-first-line-7d1e", "planted-token-second-line-93ab")
TOKEN = "\n".join(TOKEN_LINES)
PASSWORD = "planted-url-password-c41f"
BUNDLE_TOKEN = "planted-bundle-bearer-5e2a90"
SECRETS = (*TOKEN_LINES, PASSWORD, BUNDLE_TOKEN)
CRAWL_LIMIT = 400


def assert_clean(where: str, data: bytes | str) -> None:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} appears in {where}"


def _plant_legacy_clusters(server_url: str) -> list[Cluster]:
    """Rows as registration stored them before it refused these credentials."""
    two_line = Cluster.objects.create(
        name="legacy-token",
        source_kind=Cluster.SourceKind.KUBECONFIG,
        api_server=server_url,
        credentials=crypto.encrypt(Credentials(server=server_url, token=TOKEN).to_json()),
    )
    with_password = f"https://admin:{PASSWORD}@kube.example.com:6443"
    password = Cluster.objects.create(
        name="legacy-password",
        source_kind=Cluster.SourceKind.KUBECONFIG,
        api_server=with_password,
        credentials=crypto.encrypt(
            Credentials(server=with_password, token="ordinary-token-value").to_json()
        ),
    )
    return [two_line, password]


def _plant_bundle_cluster(directory: Path) -> Cluster:
    files = hostile.clean_files()
    hostile.write_bundle(directory, files)
    (directory / "collection-errors.txt").write_text(
        "validatingadmissionpolicies\tforbidden\terror: request with Authorization: Bearer "
        f"{BUNDLE_TOKEN} refused by https://admin:{PASSWORD}@proxy.example.com\n"
    )
    return cluster_register(
        name="evidence", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=directory
    )


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the configured console handler (and its redaction filter) writes, for this test."""
    console = logging.getHandlerByName("console")
    assert isinstance(console, logging.StreamHandler)
    buffer = io.StringIO()
    previous = console.setStream(buffer)
    try:
        yield buffer
    finally:
        console.setStream(previous)


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Every Celery message published during the test: its body and headers."""
    messages: list[dict[str, Any]] = []

    def record(body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        messages.append({"body": body, "headers": dict(headers or {})})

    signals.before_task_publish.connect(record, weak=False)
    try:
        yield messages
    finally:
        signals.before_task_publish.disconnect(record)
        from config.celery import app

        app.control.purge()  # no worker runs here: leave no message in the test broker


def crawl(client: Client, start: list[str]) -> dict[str, bytes]:
    """Every page reachable by GET from `start` within the site (downloads included)."""
    pages: dict[str, bytes] = {}
    queue = list(start)
    while queue and len(pages) < CRAWL_LIMIT:
        url = queue.pop(0)
        if url in pages:
            continue
        response = client.get(url)
        if response.status_code in (301, 302):
            queue.append(urljoin(url, response["Location"]))
            pages[url] = b""
            continue
        body = (
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
            if response.streaming
            else response.content
        )
        pages[url] = body
        if "html" not in response.get("Content-Type", ""):
            continue
        for href in re.findall(rb'href="([^"#]+)"', body):
            link = urljoin(url, html.unescape(href.decode()))
            parts = urlsplit(link)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(("/static/", "/logout")) or link in pages:
                continue
            queue.append(link)
    return pages


def readable(body: bytes) -> bytes:
    """The body, with any compressed PDF content streams inflated so they can be searched."""
    inflated = [body]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            inflated.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"\n".join(inflated)


@pytest.mark.django_db
def test_it_never_shows_a_planted_credential_anywhere(
    admin,
    engineer,
    auditor,
    tmp_path: Path,
    console_log,
    published,
    capsys,
    django_capture_on_commit_callbacks,
) -> None:
    # Tried through the front door: refused, and the refusal quotes neither.
    for attempt in (
        kubeconfig(user=f"    token: |\n      {TOKEN_LINES[0]}\n      {TOKEN_LINES[1]}\n"),
        kubeconfig(server=f"https://admin:{PASSWORD}@kube.example.com"),
    ):
        response = engineer.post(
            reverse("cluster_register"),
            {"name": "front-door", "source_kind": "kubeconfig", "kubeconfig": attempt},
        )
        assert response.status_code == 200
        assert_clean("the register form's refusal", response.content)
    assert not Cluster.objects.filter(name="front-door").exists()

    with FakeApiServer({"pods": []}) as server:
        legacy = _plant_legacy_clusters(server.url)
        bundle = _plant_bundle_cluster(tmp_path / "evidence")
        with pytest.raises(CommandError) as failed:
            call_command("collect", "legacy-token", "--sync")
        assert_clean("collect --sync", str(failed.value))
        run = collection_request(
            cluster=legacy[1], trigger=CollectionRun.Trigger.MANUAL, enqueue=False
        )
        collection_execute(run_id=run.pk)
        collection_execute(run_id=bundle.runs.get().pk)
    call_command("posture", "evidence", "--format", "json")
    assert_clean("command output", capsys.readouterr().out + capsys.readouterr().err)

    runs = list(CollectionRun.objects.all())
    assert {run.status for run in runs} >= {"failed", "partial"}
    for run in runs:
        assert_clean(f"run {run.pk} last_error", run.last_error)
        assert_clean(f"run {run.pk} kind_errors", orjson.dumps(run.kind_errors))
    assert "***" in bundle.runs.get().kind_errors["validatingadmissionpolicies"]

    crawled = 0
    for persona in (admin, engineer, auditor):
        start = ["/", *(reverse("cluster_detail", args=[c.name]) for c in [*legacy, bundle])]
        if persona is admin:
            start += ["/admin/clusters/cluster/", "/admin/clusters/collectionrun/"]
            start += [f"/admin/clusters/cluster/{c.pk}/change/" for c in legacy]
            start += [f"/admin/clusters/collectionrun/{run.pk}/change/" for run in runs]
        pages = crawl(persona, start)
        crawled += len(pages)
        for url, body in pages.items():
            assert_clean(f"{persona.user.username}: {url}", readable(body))
    assert crawled > 60

    assert_clean("the console log", console_log.getvalue())

    # Celery: what is enqueued for these clusters carries a run id, nothing else.
    with django_capture_on_commit_callbacks(execute=True):
        for cluster in legacy:
            collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)
    assert len(published) == len(legacy)
    for message in published:
        args, kwargs, _ = message["body"]
        assert kwargs == {} and len(args) == 1 and isinstance(args[0], int)
        assert_clean("a Celery message", orjson.dumps(message, default=str))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_keeps_credentials_out_of_a_real_workers_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API server (or a proxy before it) whose refusals quote credentials back."""
    from clusters.tests import fakeapi
    from tests.workers import celery_worker, wait_for

    echoed = (
        f"request with Authorization: Bearer {BUNDLE_TOKEN} refused by "
        f"https://admin:{PASSWORD}@proxy.example.com"
    )
    monkeypatch.setattr(fakeapi, "_forbidden_message", lambda resource: echoed)
    log = Path(settings.DATA_DIR) / "test-worker.log"
    with FakeApiServer({"pods": [], "namespaces": []}, forbidden={"nodes", "services"}) as server:
        cluster = cluster_register(
            name="echoing", source_kind="kubeconfig", kubeconfig=server.kubeconfig()
        )
        legacy = _plant_legacy_clusters(server.url)
        runs = [cluster.runs.get()]
        runs += [
            collection_request(cluster=c, trigger=CollectionRun.Trigger.MANUAL) for c in legacy
        ]
        with celery_worker():
            wait_for(
                lambda: not CollectionRun.objects.active().exists(),
                message="the collections to finish",
            )
        written = log.read_text(errors="replace")

    assert "clusters.tasks.collect" in written  # the worker did log, through its handlers
    # ...and the echoed credentials were masked by the filter on the worker's own handlers.
    assert "refused by https://***@proxy.example.com" in written
    assert_clean("the worker log", written)
    for run in CollectionRun.objects.all():
        assert_clean(f"run {run.pk} last_error", run.last_error)
        assert_clean(f"run {run.pk} kind_errors", orjson.dumps(run.kind_errors))
    assert CollectionRun.objects.get(pk=runs[0].pk).status == CollectionRun.Status.PARTIAL
