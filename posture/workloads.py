"""Workloads: what a cluster will run, named by its owner.

Checks judge pod templates of Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and unowned
ReplicaSets, and bare Pods; a Deployment scaled to zero still carries its risk. Running pods
are attached to their owning workload (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob)
so a finding names the Deployment, never a Pod or a ReplicaSet hash that changes every rollout.
A pod owned by something Rampart does not collect (an operator's custom resource) is judged on
its own and named by that owner. Owner attribution is enrichment: when the owner's kind could
not be collected (a reader allowed to list pods but not ReplicaSets), the pod is judged and
named as the Pod it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from clusters.inventory import JSON, Inventory

WORKLOAD_KEYS = ("deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs")
# What a check iterating workloads judges, as its evidence: running pods and every controller's
# template. Each failing pod or template is a failure whatever else is missing; pods alone would
# miss scaled-to-zero templates, so a pass needs all of them.
WORKLOAD_NEEDS = ("pods", *WORKLOAD_KEYS)

_KIND_BY_KEY = {
    "deployments": "Deployment",
    "statefulsets": "StatefulSet",
    "daemonsets": "DaemonSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
}


@dataclass
class Workload:
    kind: str
    namespace: str
    name: str
    # The pod template's metadata and spec (for a bare Pod, the Pod's own).
    pod_metadata: JSON
    pod_spec: JSON
    pods: list[JSON] = field(default_factory=list)

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    def containers(self, *, include_init: bool = True) -> Iterator[tuple[str, JSON]]:
        """(list name, container) for containers, initContainers and ephemeralContainers."""
        if include_init:
            return iter(self._all_containers)
        return ((name, c) for name, c in self._all_containers if name == "containers")

    @cached_property
    def _all_containers(self) -> list[tuple[str, JSON]]:
        # Dozens of checks walk every workload's containers; the template does not change.
        return [
            (list_name, container)
            for list_name in ("containers", "initContainers", "ephemeralContainers")
            for container in self.pod_spec.get(list_name) or []
        ]

    @property
    def labels(self) -> dict[str, str]:
        return self.pod_metadata.get("labels") or {}


def _template(key: str, obj: JSON) -> tuple[JSON, JSON]:
    spec = obj.get("spec") or {}
    if key == "cronjobs":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def _controller(obj: JSON) -> JSON | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return refs[0] if refs else None


class WorkloadIndex:
    """Builds workloads once per inventory; checks share it through `workloads(inventory)`."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    @cached_property
    def all(self) -> list[Workload]:
        inv = self.inventory
        by_identity: dict[tuple[str, str, str], Workload] = {}
        # (kind, namespace, name) -> its owning workload: ReplicaSet -> Deployment, Job -> CronJob
        parent: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        for key in WORKLOAD_KEYS:
            if not inv.in_hand(key):
                continue
            kind = _KIND_BY_KEY[key]
            for obj in inv.items(key):
                meta = obj.get("metadata") or {}
                identity = (kind, meta.get("namespace", ""), meta.get("name", ""))
                owner = _controller(obj)
                if owner and owner.get("kind") in ("Deployment", "CronJob"):
                    parent[identity] = (owner["kind"], identity[1], owner.get("name", ""))
                    continue  # judged through its owner's template
                pod_metadata, pod_spec = _template(key, obj)
                by_identity[identity] = Workload(
                    kind, identity[1], identity[2], pod_metadata, pod_spec
                )
        uncollected = {kind for key, kind in _KIND_BY_KEY.items() if not inv.in_hand(key)}
        if inv.in_hand("pods"):
            for pod in inv.items("pods"):
                meta = pod.get("metadata") or {}
                namespace = meta.get("namespace", "")
                owner = _controller(pod)
                # Static (mirror) pods are owned by their Node: each is its own workload. A pod
                # whose owner's kind was not collected cannot be attributed: it is named itself.
                if owner is None or owner.get("kind") in ("Node", *uncollected):
                    identity = ("Pod", namespace, meta.get("name", ""))
                else:
                    identity = (owner.get("kind", ""), namespace, owner.get("name", ""))
                    while identity in parent:
                        identity = parent[identity]
                workload = by_identity.get(identity)
                if workload is None:
                    # Bare pod, or owned by something not collected: judge the pod itself.
                    workload = Workload(
                        identity[0], namespace, identity[2], meta, pod.get("spec") or {}
                    )
                    by_identity[identity] = workload
                workload.pods.append(pod)
        return sorted(by_identity.values(), key=lambda w: (w.namespace, w.kind, w.name))

    @cached_property
    def by_namespace(self) -> dict[str, list[Workload]]:
        result: dict[str, list[Workload]] = {}
        for workload in self.all:
            result.setdefault(workload.namespace, []).append(workload)
        return result


def workloads(inventory: Inventory) -> list[Workload]:
    return workload_index(inventory).all


def workload_index(inventory: Inventory) -> WorkloadIndex:
    return inventory.derived("workloads", WorkloadIndex)
