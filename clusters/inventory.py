"""The Inventory: what a source collected from one cluster, as plain data.

Sources (live API, evidence bundle) produce it; checks read it and never see the network or the
database. Objects are the API's JSON as dicts with only the fields checks use: `trim()` drops
managedFields, last-applied annotations and most of `status`, which are the bulk of a list
response and which no check reads.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clusters.redaction import redact
from clusters.resources import BY_KEY

JSON = dict[str, Any]


class KindStatus(StrEnum):
    OK = "ok"  # listed completely
    FORBIDDEN = "forbidden"  # the credentials may not list it (401/403)
    NOT_SERVED = "not_served"  # the API does not serve it (404: an add-on CRD not installed)
    NOT_COLLECTED = "not_collected"  # the source lacks it (a bundle without that file)
    ERROR = "error"  # the server failed or the data was unreadable
    # Listed, but some objects were malformed and dropped: the valid ones are kept as evidence,
    # yet the list is not complete, so nothing may pass on it.
    PARTIAL = "partial"


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


_KEPT_METADATA = ("name", "namespace", "uid", "labels")
_KEPT_METADATA_AFTER = ("ownerReferences", "creationTimestamp")
_KEPT_TOP = ("spec", "rules", "roleRef", "subjects", "webhooks", "handler", "scheduling")


def trim(key: str, obj: JSON) -> JSON:
    """Keep what checks use; mutate-free, returns a new shallow dict.

    It runs once per listed object (tens of thousands per collection), so it is written for
    speed: one lookup per kept key, and kept values are shared with `obj`, never copied.
    """
    metadata = obj.get("metadata") or {}
    kept_metadata: JSON = {k: v for k in _KEPT_METADATA if (v := metadata.get(k)) is not None}
    annotations = metadata.get("annotations")
    if annotations is not None:
        if annotations and LAST_APPLIED in annotations:
            annotations = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        kept_metadata["annotations"] = annotations
    for k in _KEPT_METADATA_AFTER:
        if (v := metadata.get(k)) is not None:
            kept_metadata[k] = v
    trimmed: JSON = {"metadata": kept_metadata}
    for top in _KEPT_TOP:
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
    elif key == "customresourcedefinitions":
        spec = obj.get("spec") or {}
        trimmed["spec"] = {"group": spec.get("group"), "names": spec.get("names")}
    status = obj.get("status")
    if status and key in _KEPT_STATUS:
        kept_status = {k: status[k] for k in _KEPT_STATUS[key] if k in status}
        for list_name in ("containerStatuses", "initContainerStatuses"):
            if list_name in kept_status:
                kept_status[list_name] = [
                    {k: cs[k] for k in _KEPT_CONTAINER_STATUS if k in cs}
                    for cs in kept_status[list_name]
                ]
        trimmed["status"] = kept_status
    return trimmed


@dataclass
class Inventory:
    """Everything one collection saw.

    `objects[key]` exists only when `kind_status[key]` is OK (the complete list) or PARTIAL
    (the objects that were valid; `has(key)` is False for those).
    """

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
    # Views derived from the objects (workload and RBAC indexes, parsed nodes, ...): built once
    # by the first check that needs one and shared by the rest; dropped when the objects change.
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        self.forget_derived()

    def set_missing(self, key: str, status: KindStatus, reason: str) -> None:
        self.objects.pop(key, None)
        self.kind_status[key] = status
        self.kind_errors[key] = redact(reason)
        self.forget_derived()

    def mark_partial(self, key: str, reason: str) -> None:
        """Keep the valid objects already set for `key`, but record the list as incomplete."""
        self.objects.setdefault(key, [])
        self.kind_status[key] = KindStatus.PARTIAL
        self.kind_errors[key] = redact(reason)
        self.forget_derived()

    def derived[T](self, key: str, build: Callable[[Inventory], T]) -> T:
        """`build(self)`, computed on the first call for `key` and shared after that."""
        try:
            value: T = self._derived[key]
        except KeyError:
            value = self._derived[key] = build(self)
        return value

    def forget_derived(self) -> None:
        """Drop derived views; they hold the inventory, so this also breaks the cycle."""
        self._derived.clear()

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

    What survives the pause (the inventory) is long-lived, so it is moved straight to the
    oldest generation: left in the youngest, the next two young collections would each scan
    every object of it (0.3-0.5 s at 10,000 pods) only to promote it there anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _promote_survivors()
            gc.enable()


def _promote_survivors() -> None:
    # freeze() then unfreeze() moves every tracked object into the oldest generation without
    # scanning it; full collections still examine it as usual. The interpreter itself freezes
    # a few immortal objects at startup, and thawing those is harmless; skipped when anything
    # else froze objects on purpose (a pre-fork server), whose frozen set we must not thaw.
    if gc.get_freeze_count() <= _FROZEN_AT_IMPORT:
        gc.freeze()
        gc.unfreeze()


# Objects frozen before this module was imported: the interpreter's own (CPython 3.12 freezes
# the immortal MRO tuples of its static types at startup).
_FROZEN_AT_IMPORT = gc.get_freeze_count()
