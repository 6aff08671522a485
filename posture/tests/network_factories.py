"""Small factories shared by the network check tests."""

from __future__ import annotations

from typing import Any

from clusters.inventory import Inventory, KindStatus
from posture.checks import (
    netpol_calico,
    netpol_cilium,
    network,  # noqa: F401  (registers the network checks)
)
from posture.checks.base import REGISTRY, CheckContext, Outcome, run_check
from posture.workloads import WORKLOAD_NEEDS

ENGINE_KEYS = (*netpol_cilium.KEYS, *netpol_calico.KEYS)

JSON = dict[str, Any]


# --- factories ------------------------------------------------------------------------------


def namespace(name: str) -> JSON:
    return {"metadata": {"name": name}}


def policy(ns: str, name: str, selector: JSON | None = None, **spec: Any) -> JSON:
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"podSelector": selector or {}, **spec},
    }


def deny_all(ns: str, *types: str) -> JSON:
    return policy(ns, "default-deny", policyTypes=list(types or ("Ingress", "Egress")))


def deployment(
    ns: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    image: str = "shop:1.0",
    args: list[str] | None = None,
    service_account: str | None = None,
    **pod_spec: Any,
) -> JSON:
    container: JSON = {"name": "main", "image": image, "args": args or []}
    spec: JSON = {"containers": [container], **pod_spec}
    if service_account:
        spec["serviceAccountName"] = service_account
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"template": {"metadata": {"labels": labels or {"app": name}}, "spec": spec}},
    }


def service(
    ns: str,
    name: str,
    kind: str = "ClusterIP",
    *,
    selector: dict[str, str] | None = None,
    ports: list[JSON] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> JSON:
    return {
        "metadata": {"namespace": ns, "name": name, "annotations": annotations or {}},
        "spec": {
            "type": kind,
            "selector": selector if selector is not None else {"app": name},
            "ports": ports or [{"port": 443, "targetPort": 8443, "protocol": "TCP"}],
            **spec,
        },
    }


def ingress(
    ns: str, name: str, backend: str, *hosts: str, tls: list[JSON] | None = None, **meta: Any
) -> JSON:
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"number": 443}}},
    }
    rules = [{"host": h, "http": {"paths": [path]}} for h in hosts] or [{"http": {"paths": [path]}}]
    return {
        "metadata": {"namespace": ns, "name": name, **meta},
        "spec": {"rules": rules, "tls": tls or []},
    }


def cluster(*deployments: JSON, **kinds: list[JSON]) -> Inventory:
    """Workload kinds are always listed (empty unless given); other kinds only when passed.

    Policy engines (Cilium, Calico) are not installed: their kinds are not served.
    """
    inventory = Inventory()
    for key in ENGINE_KEYS:
        inventory.set_missing(key, KindStatus.NOT_SERVED, "the add-on is not installed")
    for key in WORKLOAD_NEEDS:
        inventory.set_objects(key, [])
    inventory.set_objects("deployments", list(deployments))
    for key, items in kinds.items():
        inventory.set_objects(key, items)
    return inventory


def run(check_id: str, inventory: Inventory) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext()).outcome


def names(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(a.kind, a.namespace, a.name) for a in outcome.affected]
