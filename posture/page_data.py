"""A cluster page's posture section, from the shared cache between writes.

`cluster_posture` (posture.views.cluster) is what the stored evaluation says, by area. Kept
under the cluster's page-data version (clusters.page_cache), with each check's article
rendered once when it is built: a cluster has over a hundred checks, and rendering their
include on every request cost more than all the rest of the page. The article shows the
stored verdict and, for who may request a waiver, the request links and boxes to tick; it
holds no form token and nothing about who reads it beyond that one permission, so the entry
is keyed by it and one rendering serves every reader with the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string

from clusters.models import Cluster
from clusters.page_cache import page_cached

CHECK_TEMPLATE = "clusters/_check.html"


def cluster_posture_page(
    cluster: Cluster,
    *,
    build: Callable[..., dict[str, Any]],
    can_request_waiver: bool,
) -> dict[str, Any]:
    """`build(cluster, can_request_waiver=...)`'s posture, each check's article as `html`."""

    def built() -> dict[str, Any]:
        posture = build(cluster, can_request_waiver=can_request_waiver)
        for area in posture["areas"]:
            for check in area["checks"]:
                check["html"] = render_to_string(
                    CHECK_TEMPLATE, {"check": check, "cluster": cluster}
                )
        return posture

    return page_cached(
        "cluster-posture",
        cluster_id=cluster.pk,
        # The waiver links and boxes are in the rendered articles: one entry per answer.
        parts=(("can_request_waiver", can_request_waiver),),
        build=built,
    )
