"""A cluster's checklist of one guide, from the shared cache between writes.

What `checklist` builds from the stored verdicts and the attestations on record, kept under the
cluster's page-data version (clusters.page_cache): a new evaluation, a re-derive, and every
waiver or attestation change bump it. Its links and sections' rendering are kept with it; the
page's actions (which depend on the reader's permissions) are rendered per request.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from clusters.models import Cluster
from clusters.page_cache import page_cached
from clusters.rows import url_for_each
from compliance.checklist import Checklist, checklist, cluster_state
from posture.guides import Guide

SECTIONS_TEMPLATE = "compliance/_checklist_sections.html"


def checklist_page(*, cluster: Cluster, guide: Guide) -> tuple[Checklist, str, str]:
    """The guide's checklist for the cluster, the distribution it was judged as, and its
    sections rendered (nothing in them depends on who reads them)."""

    def build() -> tuple[Checklist, str, str]:
        state = cluster_state(cluster)
        rows = checklist(guide, state)
        # One reverse() per link would cost more than the rest of the page's rows (issue 5).
        item_url = url_for_each("checklist_item", "item_id", name=cluster.name, guide=guide.slug)
        check_url = url_for_each("check_detail", "check_id", name=cluster.name)
        for row in rows.rows:
            row.url = item_url(row.item.id)
            for check in row.checks:
                check.url = check_url(check.check_id)
        html = render_to_string(SECTIONS_TEMPLATE, {"checklist": rows})
        return rows, state.distribution, html

    return page_cached("checklist", cluster_id=cluster.pk, parts=(guide.slug,), build=build)
