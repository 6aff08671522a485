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
from django.utils.functional import SimpleLazyObject

from clusters.models import Cluster
from clusters.page_cache import page_cached
from clusters.rows import runs_context

CHECK_TEMPLATE = "clusters/_check.html"
POSTURE_TEMPLATE = "clusters/_posture.html"
CHECKS_TEMPLATE = "clusters/_checks.html"
RUNS_TEMPLATE = "clusters/_runs.html"
_LAZY = ("areas", "failing", "evaluation")


def cluster_posture_page(
    cluster: Cluster,
    *,
    build: Callable[..., dict[str, Any]],
    can_request_waiver: bool,
) -> dict[str, Any]:
    """`build(cluster, can_request_waiver=...)`'s posture with its section rendered as
    `posture_html` (the summary) and `checks_html` (every check's article).

    What every request reads from the cache is the rendered section and the figures beside
    it, a third of the whole: the rows by area (`areas`, `failing`) are already in the HTML, so
    they are read (or built) only if something asks for them, which no template does.
    """
    parts = (("can_request_waiver", can_request_waiver),)

    def full() -> dict[str, Any]:
        posture = build(cluster, can_request_waiver=can_request_waiver)
        for area in posture["areas"]:
            for check in area["checks"]:
                check["html"] = render_to_string(
                    CHECK_TEMPLATE, {"check": check, "cluster": cluster}
                )
        # The whole section too: its tables and loops cost as much again as the articles.
        # The summary and the checks are two pieces: the page puts its evidence sources
        # (forms, per reader) between them.
        posture["posture_html"] = render_to_string(
            POSTURE_TEMPLATE, {**posture, "cluster": cluster}
        )
        posture["checks_html"] = render_to_string(CHECKS_TEMPLATE, {**posture, "cluster": cluster})
        for area in posture["areas"]:
            for check in area["checks"]:
                del check["html"]  # in checks_html: kept once, not read twice from the cache
        return posture

    def rows(key: str) -> Any:
        return SimpleLazyObject(
            lambda: page_cached(
                "cluster-posture-rows", cluster_id=cluster.pk, parts=parts, build=full
            )[key]
        )

    def section() -> dict[str, Any]:
        # The evaluation is the view's own (the cluster's latest): never pickled with its sets.
        return {key: value for key, value in full().items() if key not in _LAZY}

    posture = page_cached(
        "cluster-posture",
        cluster_id=cluster.pk,
        # The waiver links and boxes are in the rendered articles: one entry per answer.
        parts=parts,
        build=section,
    )
    return {**posture, "evaluation": cluster.latest_evaluation} | {
        key: rows(key) for key in ("areas", "failing")
    }


def cluster_runs_page(cluster: Cluster) -> dict[str, Any]:
    """The collection history as `runs_html`, from the shared cache while no run is active.

    A run's claim, finish and failure bump the cluster's version; its progress messages do
    not, so a history with an active run is rendered on every read (the page polls it then).
    """

    def build() -> dict[str, Any]:
        context = runs_context(cluster)
        return {
            "any_active": context["any_active"],
            "runs_html": render_to_string(RUNS_TEMPLATE, context),
        }

    return page_cached(
        "cluster-runs",
        cluster_id=cluster.pk,
        build=build,
        keep=lambda built: not built["any_active"],
    )
