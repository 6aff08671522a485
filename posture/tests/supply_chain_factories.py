"""Small factories shared by the supply chain check tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clusters.inventory import JSON, Inventory
from posture.checks.base import REGISTRY, CheckContext, Outcome, run_check
from posture.workloads import WORKLOAD_NEEDS

ADMISSION_KEYS = ("namespaces", "validatingwebhookconfigurations", "mutatingwebhookconfigurations")
DIGEST = "sha256:" + "a" * 64


def container(name: str = "app", image: str = "nginx:1.27", **fields: Any) -> JSON:
    return {"name": name, "image": image, **fields}


def pod(
    namespace: str,
    name: str,
    containers: list[JSON],
    *,
    owner: tuple[str, str] | None = None,
    image_ids: dict[str, str] | None = None,
) -> JSON:
    metadata: JSON = {"namespace": namespace, "name": name}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    statuses = [
        {"name": c["name"], "image": c["image"], "imageID": (image_ids or {}).get(c["name"], "")}
        for c in containers
    ]
    return {
        "metadata": metadata,
        "spec": {"containers": containers},
        "status": {"containerStatuses": statuses},
    }


def deployment(
    namespace: str, name: str, *containers: JSON, image_ids: Sequence[str] = ()
) -> dict[str, list[JSON]]:
    """A Deployment with its ReplicaSet and one Pod per entry of `image_ids` (at least one)."""
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": list(containers)}}
    rs_name = f"{name}-7c9f8d6b5"
    pods = [
        pod(
            namespace,
            f"{rs_name}-{index}",
            list(containers),
            owner=("ReplicaSet", rs_name),
            image_ids={containers[0]["name"]: image_id} if image_id else None,
        )
        for index, image_id in enumerate(list(image_ids) or [""])
    ]
    return {
        "deployments": [
            {"metadata": {"namespace": namespace, "name": name}, "spec": {"template": template}}
        ],
        "replicasets": [
            {
                "metadata": {
                    "namespace": namespace,
                    "name": rs_name,
                    "ownerReferences": [{"kind": "Deployment", "name": name, "controller": True}],
                },
                "spec": {"template": template},
            }
        ],
        "pods": pods,
    }


def namespace(name: str, **labels: str) -> JSON:
    return {"metadata": {"name": name, "labels": labels}}


def webhook_config(name: str, *webhooks: JSON) -> JSON:
    return {"metadata": {"name": name}, "webhooks": list(webhooks)}


def webhook(
    name: str, failure_policy: str | None = "Fail", resources: tuple[str, ...] = ("pods",)
) -> JSON:
    hook: JSON = {
        "name": name,
        "rules": [
            {"operations": ["CREATE", "UPDATE"], "apiGroups": ["*"], "resources": list(resources)}
        ],
    }
    if failure_policy:
        hook["failurePolicy"] = failure_policy
    return hook


def cluster(*workloads: dict[str, list[JSON]], **kinds: list[JSON]) -> Inventory:
    """Workload and admission kinds listed (empty unless given), plus any other kinds passed."""
    inventory = Inventory()
    for key in (*WORKLOAD_NEEDS, *ADMISSION_KEYS):
        merged = [obj for workload in workloads for obj in workload.get(key, [])]
        inventory.set_objects(key, merged + kinds.pop(key, []))
    for key, items in kinds.items():
        inventory.set_objects(key, items)
    return inventory


def run(check_id: str, inventory: Inventory, context: CheckContext | None = None) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, context or CheckContext()).outcome


def names(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(a.kind, a.namespace, a.name) for a in outcome.affected]
