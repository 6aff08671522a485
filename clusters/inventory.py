"""The Inventory: what a source collected from one cluster, as plain data.

Sources (live API, evidence bundle) produce it; checks read it and never see the network or the
database. Objects are the API's JSON as dicts with only the fields checks use: `trim()` drops
managedFields, last-applied annotations and most of `status`, which are the bulk of a list
response and which no check reads.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clusters.resources import BY_KEY

JSON = dict[str, Any]


class KindStatus(StrEnum):
    OK = "ok"  # listed completely
    FORBIDDEN = "forbidden"  # the credentials may not list it (401/403)
    NOT_SERVED = "not_served"  # the API does not serve it (404: an add-on CRD not installed)
    NOT_COLLECTED = "not_collected"  # the source lacks it (a bundle without that file)
    ERROR = "error"  # the server failed or the data was unreadable


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Status fields checks read, per resource; everything else under status is dropped.
_KEPT_STATUS: dict[str, tuple[str, ...]] = {
    "pods": ("phase", "containerStatuses", "initContainerStatuses", "hostIP", "podIP"),
    "nodes": ("nodeInfo", "conditions", "addresses"),
    "services": ("loadBalancer",),
    "ingresses": ("loadBalancer",),
    "daemonsets": ("desiredNumberScheduled", "numberReady"),
    "deployments": ("replicas", "readyReplicas"),
    "statefulsets": ("replicas", "readyReplicas"),
    "replicasets": ("replicas",),
    "jobs": ("active",),
    "customresourcedefinitions": (),
}
_KEPT_CONTAINER_STATUS = ("name", "image", "imageID", "ready", "restartCount")


def trim(key: str, obj: JSON) -> JSON:
    """Keep what checks use; mutate-free, returns a new shallow dict."""
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations")
    if annotations and LAST_APPLIED in annotations:
        annotations = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    kept_metadata: JSON = {
        k: v
        for k, v in (
            ("name", metadata.get("name")),
            ("namespace", metadata.get("namespace")),
            ("uid", metadata.get("uid")),
            ("labels", metadata.get("labels")),
            ("annotations", annotations),
            ("ownerReferences", metadata.get("ownerReferences")),
            ("creationTimestamp", metadata.get("creationTimestamp")),
        )
        if v is not None
    }
    trimmed: JSON = {"metadata": kept_metadata}
    for top in ("spec", "rules", "roleRef", "subjects", "webhooks", "handler", "scheduling"):
        if top in obj:
            trimmed[top] = obj[top]
    if "aggregationRule" in obj:
        trimmed["aggregationRule"] = obj["aggregationRule"]
    if key == "vulnerabilityreports":
        report = obj.get("report") or {}
        trimmed["report"] = {
            "summary": report.get("summary"),
            "artifact": report.get("artifact"),
            "registry": report.get("registry"),
        }
    if key == "customresourcedefinitions":
        spec = obj.get("spec") or {}
        trimmed["spec"] = {"group": spec.get("group"), "names": spec.get("names")}
    status = obj.get("status")
    if status and key in _KEPT_STATUS:
        kept_status = {k: status[k] for k in _KEPT_STATUS[key] if k in status}
        for list_name in ("containerStatuses", "initContainerStatuses"):
            if list_name in kept_status:
                kept_status[list_name] = [
                    {k: cs.get(k) for k in _KEPT_CONTAINER_STATUS if k in cs}
                    for cs in kept_status[list_name]
                ]
        trimmed["status"] = kept_status
    return trimmed


@dataclass
class Inventory:
    """Everything one collection saw. `objects[key]` exists only when `kind_status[key]` is OK."""

    version: JSON | None = None
    objects: dict[str, list[JSON]] = field(default_factory=dict)
    kind_status: dict[str, KindStatus] = field(default_factory=dict)
    kind_errors: dict[str, str] = field(default_factory=dict)
    # Status codes of unauthenticated GETs, e.g. {"/version": 200, "/api": 403}; None when the
    # source could not probe (an evidence bundle) or the probe was not reachable.
    anonymous_probe: dict[str, int] | None = None
    # Provider data (gke-cluster.json); None when not supplied.
    provider: JSON | None = None
    source: str = ""

    def has(self, key: str) -> bool:
        return self.kind_status.get(key) == KindStatus.OK

    def items(self, key: str) -> list[JSON]:
        """The objects of one resource. Callers must have checked `has()` (checks declare needs)."""
        if key not in BY_KEY:
            raise KeyError(f"unknown resource {key!r}")
        return self.objects.get(key, [])

    def set_objects(self, key: str, items: list[JSON]) -> None:
        self.objects[key] = items
        self.kind_status[key] = KindStatus.OK
        self.kind_errors.pop(key, None)

    def set_missing(self, key: str, status: KindStatus, reason: str) -> None:
        self.objects.pop(key, None)
        self.kind_status[key] = status
        self.kind_errors[key] = reason

    @property
    def git_version(self) -> str | None:
        return (self.version or {}).get("gitVersion")

    def counts(self) -> dict[str, int]:
        return {key: len(items) for key, items in self.objects.items()}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsed API JSON piles up.

    Parsing allocates millions of dicts and lists; each allocation burst triggers a collection
    that scans the whole growing pile, which made 50,000 pods cost 1.5x per pod what 10,000 did
    (bench/). Parsed JSON holds no reference cycles, so reference counting still frees every
    page; the collector is restored (and runs as usual) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
