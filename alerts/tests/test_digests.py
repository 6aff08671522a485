"""Daily digests: one email a day per recipient, grouped by cluster, then by collection.

Ada takes the fleet as a daily digest; two bundle clusters, shop and lab, regress during the
day (shop twice). The next morning's digest holds all three collections, shop's two in the
order they happened; what comes after goes into the following day's digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from alerts import delivery
from alerts.models import Notification, Subscription
from alerts.tasks import send_daily_digests
from alerts.tests.conftest import outbox_parts, upload, write_bundle
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db


def register(name: str, tmp_path: Path) -> Cluster:
    cluster = cluster_register(
        name=name,
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=write_bundle(tmp_path / name / "v0", privileged=False, with_rbac=False),
    )
    assert collection_execute(run_id=cluster.runs.get().pk) is not None
    return cluster


def regress(cluster: Cluster, bundle: Path) -> None:
    finished = collection_execute(run_id=upload(cluster, bundle).pk, send_alerts_inline=True)
    assert finished is not None and finished.status != CollectionRun.Status.FAILED


@pytest.fixture
def day(tmp_path: Path, admin: Any, settings: Any) -> dict[str, Cluster]:
    settings.SITE_URL = "https://rampart.example.com"
    Subscription.objects.create(user=admin.user, cluster=None, delivery="digest")
    shop, lab = register("shop", tmp_path), register("lab", tmp_path)
    # shop: a privileged container, then a cluster-admin binding; lab: the privileged one.
    regress(shop, write_bundle(tmp_path / "shop" / "v1", with_rbac=False))
    regress(shop, write_bundle(tmp_path / "shop" / "v2"))
    regress(lab, write_bundle(tmp_path / "lab" / "v1", with_rbac=False))
    return {"shop": shop, "lab": lab}


def test_it_sends_one_digest_grouped_by_cluster_then_collection(day, tmp_path: Path) -> None:
    assert mail.outbox == []  # digest subscribers hear nothing immediately
    assert Notification.objects.filter(delivery="digest", status="pending").count() == 3

    assert send_daily_digests() == 1
    [digest] = mail.outbox
    assert digest.to == ["ada@example.com"]
    assert digest.subject.startswith("[Rampart] Daily digest for lab, shop: ")
    body, html = outbox_parts(digest)
    lab, shop = body.index("\nlab\n"), body.index("\nshop\n")
    assert lab < shop  # clusters alphabetically
    shop_part = body[shop:]
    privileged = shop_part.index("Privileged containers (isolation.privileged)")
    admin_binding = shop_part.index("(access.cluster_admin_bindings)")
    assert privileged < admin_binding  # shop's collections in the order they happened
    assert body.count("Collected ") == 3
    assert body.count("Compare with the collection before: ") == 3
    assert html.count('border-left:3px solid #d5dce3;">') == 3  # one block per collection
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}

    # The same day's digest again sends nothing; the next day's holds only what came after.
    assert delivery.digests_send() == 0
    regress(day["lab"], write_bundle(tmp_path / "lab" / "v2"))
    assert delivery.digests_send() == 1
    assert "for lab:" in mail.outbox[-1].subject and "shop" not in mail.outbox[-1].body
