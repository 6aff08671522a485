"""Small factories shared by the rbac check tests."""

from __future__ import annotations

from typing import Any

from clusters.inventory import Inventory
from posture.checks import access  # noqa: F401  (registers the access checks)
from posture.checks.base import REGISTRY, CheckContext, Outcome, run_check

JSON = dict[str, Any]
RBAC_KEYS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


# --- factories ------------------------------------------------------------------------------


def rule(
    verbs: list[str], resources: list[str], groups: list[str] | None = None, **extra: Any
) -> JSON:
    return {"verbs": verbs, "resources": resources, "apiGroups": groups or [""], **extra}


def cluster_role(
    name: str, *rules: JSON, labels: dict[str, str] | None = None, **extra: Any
) -> JSON:
    return {"metadata": {"name": name, "labels": labels or {}}, "rules": list(rules), **extra}


def role(namespace: str, name: str, *rules: JSON) -> JSON:
    return {"metadata": {"namespace": namespace, "name": name}, "rules": list(rules)}


def user(name: str) -> JSON:
    return {"kind": "User", "name": name}


def group(name: str) -> JSON:
    return {"kind": "Group", "name": name}


def service_account(namespace: str, name: str) -> JSON:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def crb(name: str, role_name: str, *subjects: JSON) -> JSON:
    return {
        "metadata": {"name": name},
        "roleRef": {"kind": "ClusterRole", "name": role_name},
        "subjects": list(subjects),
    }


def rb(
    namespace: str, name: str, role_name: str, *subjects: JSON, kind: str = "ClusterRole"
) -> JSON:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "roleRef": {"kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def cluster(**kinds: list[JSON]) -> Inventory:
    """An inventory with RBAC kinds listed (empty unless given) plus whatever else is passed."""
    inventory = Inventory()
    for key in RBAC_KEYS:
        inventory.set_objects(key, kinds.pop(key, []))
    for key, items in kinds.items():
        inventory.set_objects(key, items)
    return inventory


CLUSTER_ADMIN = cluster_role("cluster-admin", rule(["*"], ["*"], ["*"]))
SECRET_READER = cluster_role("secret-reader", rule(["get", "list"], ["secrets"]))
VIEW = cluster_role("view", rule(["get", "list", "watch"], ["pods", "configmaps"]))


def run(check_id: str, inventory: Inventory) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext()).outcome


def details(outcome: Outcome) -> list[tuple[str, str, str, str]]:
    return [(a.kind, a.namespace, a.name, a.detail) for a in outcome.affected]
