"""A cluster's checklist of one guide, from the shared cache between writes.

What `checklist` builds from the stored verdicts and the attestations on record, kept under the
cluster's page-data version (clusters.page_cache): a new evaluation, a re-derive, and every
waiver or attestation change bump it. Links are added by the view, per request.
"""

from __future__ import annotations

from clusters.models import Cluster
from clusters.page_cache import page_cached
from compliance.checklist import Checklist, checklist, cluster_state
from posture.guides import Guide


def checklist_page(*, cluster: Cluster, guide: Guide) -> tuple[Checklist, str]:
    """The guide's checklist for the cluster and the distribution it was judged as."""

    def build() -> tuple[Checklist, str]:
        state = cluster_state(cluster)
        return checklist(guide, state), state.distribution

    return page_cached("checklist", cluster_id=cluster.pk, parts=(guide.slug,), build=build)
