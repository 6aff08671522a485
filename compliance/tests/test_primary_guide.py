"""The primary guide follows the distribution: the demo's kubeadm edge-dev leads with CIS
Kubernetes, never the GKE hardening guide; the GKE payments-prod with Google's two guides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from clusters.models import Cluster
from clusters.services import cluster_register

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"


def guide_rows(client, name: str) -> list[tuple[str, bool]]:
    html = client.get(reverse("guide_index", kwargs={"name": name})).content.decode()
    rows = re.findall(
        r'guides/([a-z-]+)/">[^<]+</a>( <span class="muted">\(primary\)</span>)?', html
    )
    return [(slug, bool(primary)) for slug, primary in rows]


@pytest.mark.parametrize(
    ("bundle", "primary"),
    [
        ("edge-dev", ["cis-kubernetes"]),
        ("storefront-staging", ["cis-kubernetes"]),
        ("orders-eks", ["cis-kubernetes"]),
        ("payments-prod", ["gke-hardening", "cis-gke"]),
    ],
)
def test_it_leads_with_the_distributions_own_guides(auditor, bundle, primary):
    cluster_register(name=bundle, source_kind=Cluster.SourceKind.BUNDLE, bundle_path=DEMO / bundle)
    call_command("collect", bundle, "--sync")

    rows = guide_rows(auditor, bundle)

    assert len(rows) == 5
    assert [slug for slug, is_primary in rows if is_primary] == primary
    assert [slug for slug, _ in rows[: len(primary)]] == primary  # listed first
