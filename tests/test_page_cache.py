"""Cached page data is never older than the last write, and is shared between processes.

Erin (engineer) reads the fleet, cluster and checklist pages; a second read is served from the
cache (fewer queries); then something changes through the real services and views (a new
collection, a waiver approved by Ada, an attestation) and the very next read shows it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters.models import Cluster
from clusters.rows import decimal_text
from clusters.services import bundle_upload, cluster_register
from clusters.tests.hostile_archives import tar_gz
from compliance import services as compliance
from compliance.tests.factories import evaluated_cluster
from tests import workers

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "bundles"
GUIDE = "cis-kubernetes"
MANUAL_ITEM = "5.6.1"  # judged by no check: awaits an attestation
WAIVED_CHECK = "access.csr_approval"


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return response, len(queries)


def _pages(cluster):
    return {
        "fleet": reverse("fleet"),
        "cluster": reverse("cluster_detail", kwargs={"name": cluster.name}),
        "checklist": reverse("checklist", kwargs={"name": cluster.name, "guide": GUIDE}),
    }


def _shown(client, cluster):
    """The score each page shows for the cluster, and the checklist's item statuses."""
    pages = _pages(cluster)
    fleet, _ = _get(client, pages["fleet"])
    (row,) = [row for row in fleet.context["rows"] if row["name"] == cluster.name]
    page, _ = _get(client, pages["cluster"])
    checklist, _ = _get(client, pages["checklist"])
    return {
        "fleet": row["score"],
        "cluster": page.context["evaluation"].score,
        "items": {row.item.id: row.status for row in checklist.context["checklist"].rows},
    }


def _tarball(directory: Path, into: Path) -> Path:
    return tar_gz(directory, into / f"{directory.name}.tar.gz")


def _latest_score(cluster: Cluster) -> float:
    """The score stored for the cluster's latest evaluation, read from the database."""
    cluster.refresh_from_db()
    assert cluster.latest_evaluation is not None
    assert cluster.latest_evaluation.score is not None
    return cluster.latest_evaluation.score


def _collect(name: str) -> None:
    call_command("collect", name, "--sync", stdout=StringIO())


def waiver_requested(cluster, *, by, expires_in=timedelta(days=30)):
    return compliance.waiver_request(
        cluster=cluster,
        check_id=WAIVED_CHECK,
        by=by.user,
        owner_email="platform@example.com",
        reason="The approver bot is replaced next sprint.",
        expires_at=timezone.now() + expires_in,
    )


def test_it_serves_a_second_read_from_the_cache(engineer):
    cluster = evaluated_cluster()
    for name, url in _pages(cluster).items():
        _, first = _get(engineer, url)
        _, second = _get(engineer, url)
        assert second < first, f"{name}: {second} queries on a hit, {first} on the miss"


def test_it_shows_a_new_collection_at_once(engineer, tmp_path):
    cluster = cluster_register(
        name="shop",
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=DEMO / "storefront-staging",
    )
    _collect("shop")
    cluster.refresh_from_db()
    before = _shown(engineer, cluster)
    assert _shown(engineer, cluster) == before  # read again: from the cache
    with _tarball(DEMO / "payments-prod", tmp_path).open("rb") as upload:
        bundle_upload(cluster=cluster, upload=upload, upload_name="bundle.tar.gz", by=None)
    _collect("shop")

    score = _latest_score(cluster)
    assert score != before["cluster"]
    after = _shown(engineer, cluster)
    assert after["cluster"] == score
    assert after["fleet"] == decimal_text(score, 1)


def test_it_shows_an_approved_waiver_at_once(engineer, admin):
    cluster = evaluated_cluster()
    before = _shown(engineer, cluster)
    waiver = waiver_requested(cluster, by=engineer)
    assert _shown(engineer, cluster) == before  # pending: nothing applies yet

    response = admin.post(reverse("waiver_approve", kwargs={"pk": waiver.pk}))
    assert response.status_code == 302

    score = _latest_score(cluster)
    assert score > before["cluster"]
    after = _shown(engineer, cluster)
    assert (after["cluster"], after["fleet"]) == (score, decimal_text(score, 1))
    assert after["items"] != before["items"]  # the items judged by the check are waived


def test_it_shows_an_attestation_at_once(engineer):
    cluster = evaluated_cluster()
    assert _shown(engineer, cluster)["items"][MANUAL_ITEM] == "manual"
    url = reverse(
        "attestation_create", kwargs={"name": cluster.name, "guide": GUIDE, "item_id": MANUAL_ITEM}
    )
    response = engineer.post(
        url,
        {
            "justification": "Namespaces map one-to-one to teams; reviewed with each owner.",
            "reattest_by": (timezone.localdate() + timedelta(days=90)).isoformat(),
            "evidence_file": SimpleUploadedFile("review.pdf", b"%PDF-1.4 review"),
        },
    )
    assert response.status_code == 302

    assert _shown(engineer, cluster)["items"][MANUAL_ITEM] == "attested"


def test_it_drops_a_deleted_cluster_from_the_fleet(engineer):
    cluster = evaluated_cluster()
    other = evaluated_cluster(name="prod-us")
    assert {row["name"] for row in _get(engineer, reverse("fleet"))[0].context["rows"]} == {
        "prod-eu",
        "prod-us",
    }
    Cluster.objects.get(pk=other.pk).delete()  # as the admin deletes one

    rows = _get(engineer, reverse("fleet"))[0].context["rows"]
    assert [row["name"] for row in rows] == [cluster.name]


@pytest.mark.django_db(transaction=True)
def test_it_shares_the_cache_with_a_worker_process(engineer, settings, tmp_path, monkeypatch):
    """The web process caches the pages; a collection in another process (a worker) stores a
    new evaluation; the web process's next read shows it, because both use one file cache."""
    shared = Path(settings.DATA_DIR) / "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(shared),
        }
    }
    from django.core.cache import cache

    cache.clear()
    # The collection runs in the other process, not through the broker.
    monkeypatch.setattr("clusters.services.collection_enqueue", lambda **_: None)
    cluster = cluster_register(
        name="shop",
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=DEMO / "storefront-staging",
    )

    def collect_elsewhere() -> None:
        env = {
            **os.environ,
            "DATABASE_URL": workers.test_database_url(),
            "RAMPART_DATA_DIR": str(settings.DATA_DIR),  # the same media and the same cache
            "RAMPART_ENV_FILE": os.devnull,
        }
        done = subprocess.run(
            [sys.executable, "manage.py", "collect", "shop", "--sync"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    collect_elsewhere()
    cluster.refresh_from_db()
    before = _shown(engineer, cluster)
    assert list(shared.iterdir()), "the pages wrote nothing to the shared cache"
    with _tarball(DEMO / "payments-prod", tmp_path).open("rb") as upload:
        bundle_upload(cluster=cluster, upload=upload, upload_name="bundle.tar.gz", by=None)
    # Only the other process's writes can have told this one: its own cache version is as the
    # first read left it until the worker's bump lands in the shared files.
    collect_elsewhere()

    score = _latest_score(cluster)
    assert score != before["cluster"]
    after = _shown(engineer, cluster)
    assert (after["cluster"], after["fleet"]) == (score, decimal_text(score, 1))
    cache.clear()


def test_it_builds_pages_without_a_reachable_cache(engineer, settings):
    """Redis down: pages are built as if there were no cache, never an error page."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    cluster = evaluated_cluster()
    for url in _pages(cluster).values():
        _get(engineer, url)
