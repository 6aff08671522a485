"""Every write the cached pages show invalidates them, and no reader sees another's fragment.

tests/test_page_cache.py covers a new collection, an approved waiver, an attestation, a deleted
cluster and the cache shared between processes; here: a waiver revoked or expired, a cluster
renamed, a run failed as stale, new owners and a provider link, and the waiver links of the
cached cluster page per permission.
"""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.collection import runs_fail_stale
from clusters.models import CollectionRun, ProviderLink
from clusters.rows import cluster_rows
from clusters.services import cluster_owners_set
from clusters.tests.factories import make_run
from clusters.tests.fakeproviders import SECRET_ACCESS_KEY
from clusters.tests.test_provider_clients import eks_link
from compliance import services as compliance
from compliance.tests.factories import evaluated_cluster
from tests.test_page_cache import WAIVED_CHECK, _get, _latest_score, _shown, waiver_requested

pytestmark = pytest.mark.django_db


def _approved_waiver(cluster, *, by, approver, expires_in=timedelta(days=30)):
    waiver = waiver_requested(cluster, by=by, expires_in=expires_in)
    return compliance.waiver_approve(waiver=waiver, by=approver.user)


def test_it_shows_a_revoked_waiver_at_once(engineer, admin):
    cluster = evaluated_cluster()
    unwaived = _shown(engineer, cluster)
    waiver = _approved_waiver(cluster, by=engineer, approver=admin)
    waived = _shown(engineer, cluster)
    assert waived["cluster"] > unwaived["cluster"]

    response = admin.post(reverse("waiver_revoke", kwargs={"pk": waiver.pk}))
    assert response.status_code == 302

    assert _shown(engineer, cluster) == unwaived


def test_it_shows_an_expired_waiver_at_once(engineer, admin):
    cluster = evaluated_cluster()
    unwaived = _shown(engineer, cluster)
    _approved_waiver(cluster, by=engineer, approver=admin, expires_in=timedelta(hours=1))
    assert _shown(engineer, cluster)["cluster"] > unwaived["cluster"]

    assert compliance.waivers_expire(now=timezone.now() + timedelta(hours=2)) == [cluster.pk]

    after = _shown(engineer, cluster)
    assert after["cluster"] == _latest_score(cluster) == unwaived["cluster"]


def test_it_shows_a_renamed_cluster_at_once(engineer):
    cluster = evaluated_cluster()
    _shown(engineer, cluster)
    cluster.name = "prod-eu-2"
    cluster.save()  # as the admin edits it

    rows = _get(engineer, reverse("fleet"))[0].context["rows"]
    assert [row["name"] for row in rows] == ["prod-eu-2"]
    page = _get(engineer, reverse("cluster_detail", kwargs={"name": "prod-eu-2"}))[0]
    assert reverse("check_detail", kwargs={"name": "prod-eu-2", "check_id": WAIVED_CHECK}) in (
        page.content.decode()
    )


def test_it_shows_a_run_failed_as_stale_at_once(engineer):
    cluster = evaluated_cluster()
    long_ago = timezone.now() - timedelta(hours=6)
    run = make_run(
        cluster, status=CollectionRun.Status.RUNNING, created_at=long_ago, heartbeat_at=long_ago
    )
    (row,) = _get(engineer, reverse("fleet"))[0].context["rows"]
    assert row["run_status"] == CollectionRun.Status.RUNNING
    summary = _get(engineer, reverse("fleet"))[0].context["summary"]

    assert runs_fail_stale() == 1

    response = _get(engineer, reverse("fleet"))[0]
    (row,) = response.context["rows"]
    assert row["run_status"] == CollectionRun.Status.FAILED
    assert response.context["summary"]["failing"] == summary["failing"] + 1
    run.refresh_from_db()
    assert run.status == CollectionRun.Status.FAILED


def test_it_keeps_the_waiver_links_to_who_may_request_one(engineer, auditor):
    """The cluster page's rendered articles are cached per permission answer: the auditor's
    read first fills the cache, and the engineer still gets the links, and the other way round."""
    cluster = evaluated_cluster()
    url = reverse("cluster_detail", kwargs={"name": cluster.name})
    request_url = reverse("waiver_request", kwargs={"name": cluster.name, "check_id": WAIVED_CHECK})

    for _ in range(2):  # the second round reads both entries from the cache
        assert request_url not in _get(auditor, url)[0].content.decode()
        assert request_url in _get(engineer, url)[0].content.decode()


def test_it_shows_new_owners_and_a_provider_link_at_once(engineer):
    """The cluster page's owners and provider link are cached with its data; changing them
    through their services shows on the next read, and the cache never holds the key."""
    cluster = evaluated_cluster()
    url = reverse("cluster_detail", kwargs={"name": cluster.name})
    page, _ = _get(engineer, url)
    assert page.context["provider_link"] is None

    cluster_owners_set(cluster=cluster, owners=["platform@example.com"])
    eks_link(cluster=cluster)

    page, queries = _get(engineer, url)
    assert [owner.email for owner in page.context["owners"]] == ["platform@example.com"]
    assert page.context["provider_link"].name == "orders-prod"
    assert b"platform@example.com" in page.content and b"orders-prod" in page.content
    _, cached = _get(engineer, url)
    assert cached < queries  # the second read is the cache's
    stored = pickle.dumps(cluster_rows(cluster))
    link = ProviderLink.objects.get(cluster=cluster)
    assert link.credentials and bytes(link.credentials) not in stored
    assert SECRET_ACCESS_KEY.encode() not in stored and b"pbkdf2" not in stored
