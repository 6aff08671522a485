"""The RBAC model access checks stand on: rule matching, aggregation, grading, scope."""

from __future__ import annotations

from typing import Any

from clusters.inventory import Inventory
from posture.checks.rbac import NODES_PROXY, POD_EXEC, Power, Rule, grade, rbac_index

JSON = dict[str, Any]


def rule(
    verbs: list[str], resources: list[str], groups: list[str] | None = None, **extra: Any
) -> Rule:
    return Rule.from_json(
        {"verbs": verbs, "resources": resources, "apiGroups": groups or [""], **extra}
    )


def cluster_roles(*roles: JSON) -> Inventory:
    inventory = Inventory()
    inventory.set_objects("clusterroles", list(roles))
    return inventory


def test_it_matches_subresources_like_the_api_server() -> None:
    exec_anything = rule(["create"], ["*/exec"])
    assert exec_anything.allows("create", "", "pods/exec")
    assert not exec_anything.allows("create", "", "pods")
    assert POD_EXEC.granted_by([exec_anything])
    assert not POD_EXEC.granted_by([rule(["create"], ["pods/*"])])


def test_it_follows_aggregated_cluster_roles() -> None:
    source = {
        "metadata": {"name": "secrets-extra", "labels": {"agg": "yes"}},
        "rules": [{"verbs": ["get"], "resources": ["secrets"], "apiGroups": [""]}],
    }
    aggregator = {
        "metadata": {"name": "team-admin"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]},
    }
    index = rbac_index(cluster_roles(source, aggregator))
    assert grade(index.cluster_role_rules("team-admin")) == (Power.SENSITIVE, ["read Secrets"])


def test_it_grades_escalation_as_admin_and_named_objects_as_narrow() -> None:
    bind = rule(["bind"], ["clusterroles"], ["rbac.authorization.k8s.io"])
    assert grade([bind])[0] == Power.ADMIN
    assert grade([rule(["get"], ["secrets"], resourceNames=["one"])])[0] == Power.READ
    health = Rule.from_json({"verbs": ["get"], "nonResourceURLs": ["/healthz"]})
    assert grade([health])[0] == Power.NONE


def test_it_grades_namespaced_grants_without_cluster_scoped_powers() -> None:
    proxy = rule(["get"], ["nodes/proxy"])
    assert NODES_PROXY.cluster_scoped
    assert grade([proxy])[0] == Power.SENSITIVE
    assert grade([proxy], namespaced=True)[0] == Power.READ
