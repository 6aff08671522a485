"""A cluster's checklist of one guide, from the shared cache between writes.

What `checklist` builds from the stored verdicts and the attestations on record, kept under the
cluster's page-data version (clusters.page_cache): a new evaluation, a re-derive, and every
waiver or attestation change bump it. Its links and sections' rendering are kept with it; the
page's actions (which depend on the reader's permissions) are rendered per request.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject

from clusters.models import Cluster
from clusters.page_cache import page_cached
from clusters.rows import url_for_each
from compliance.checklist import Checklist, checklist, cluster_state
from posture.guides import Guide

SECTIONS_TEMPLATE = "compliance/_checklist_sections.html"


def checklist_page(*, cluster: Cluster, guide: Guide) -> dict[str, Any]:
    """What the checklist page shows: the distribution the cluster was judged as, the status
    counts and the sections rendered (nothing in them depends on who reads them).

    `checklist`, the rows themselves, is in the rendered sections already: read (or built)
    only if something asks for it, which the template does not.
    """

    def rows() -> Checklist:
        state = cluster_state(cluster)
        built = checklist(guide, state)
        built.distribution = state.distribution  # type: ignore[attr-defined]
        # One reverse() per link would cost more than the rest of the page's rows (issue 5).
        item_url = url_for_each("checklist_item", "item_id", name=cluster.name, guide=guide.slug)
        check_url = url_for_each("check_detail", "check_id", name=cluster.name)
        for row in built.rows:
            row.url = item_url(row.item.id)
            for check in row.checks:
                check.url = check_url(check.check_id)
        return built

    def full() -> Checklist:
        return page_cached("checklist-rows", cluster_id=cluster.pk, parts=(guide.slug,), build=rows)

    def page() -> dict[str, Any]:
        built = rows()
        return {
            "distribution": built.distribution,  # type: ignore[attr-defined]
            "counts": built.counts(),
            "sections_html": render_to_string(SECTIONS_TEMPLATE, {"checklist": built}),
        }

    shown = page_cached("checklist", cluster_id=cluster.pk, parts=(guide.slug,), build=page)
    return {**shown, "guide": guide, "checklist": SimpleLazyObject(full)}
