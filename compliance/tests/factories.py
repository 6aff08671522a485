"""Small factories for compliance tests: a collected GKE cluster, guide items by id."""

from __future__ import annotations

from clusters.models import Cluster
from clusters.tests.factories import affected, make_cluster, make_evaluation, make_run
from posture.guides import Guide, Item

GKE_VERSION = "v1.31.4-gke.1000"


def item_of(guide: Guide, item_id: str) -> Item:
    """The item, which the test knows exists."""
    item = guide.item(item_id)
    assert item is not None, item_id
    return item


def evaluated_cluster(*, version: str = GKE_VERSION, name: str = "prod-eu") -> Cluster:
    """A GKE cluster: one passing, two failing and one unknown check among the CIS 5.1 items."""
    cluster = make_cluster(name)
    run = make_run(cluster, kubernetes_version=version)
    make_evaluation(
        cluster,
        run=run,
        results=[
            {"check_id": "access.pv_creators", "status": "pass", "summary": "nobody"},
            {
                "check_id": "access.nodes_proxy",
                "status": "fail",
                "summary": "2 subjects may use nodes/proxy; expected none",
                "affected": affected(2, kind="ClusterRoleBinding", namespace=""),
            },
            {
                "check_id": "access.csr_approval",
                "status": "fail",
                "summary": "1 subject may approve CSRs",
                "affected": [
                    {"kind": "RoleBinding", "namespace": "ops", "name": "approver", "detail": "x"},
                    {"kind": "RoleBinding", "namespace": "ci", "name": "bot", "detail": "y"},
                ],
            },
            {
                "check_id": "access.webhook_writers",
                "status": "unknown",
                "summary": "clusterroles forbidden to the collector's credentials",
            },
        ],
    )
    return cluster
