"""The Inventory: what a source collected from one cluster, as plain data.

Sources (live API, evidence bundle) produce it; checks read it and never see the network or the
database. Objects are the API's JSON as dicts: `trim()` drops managedFields, last-applied
annotations and most of `status`, which are the bulk of a list response and which no check
reads, and keeps every other field.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from clusters.redaction import redact
from clusters.resources import BY_KEY

JSON = dict[str, Any]


class KindStatus(StrEnum):
    OK = "ok"  # listed completely
    FORBIDDEN = "forbidden"  # the credentials may not list it (401/403)
    NOT_SERVED = "not_served"  # the API does not serve it (404: an add-on CRD not installed)
    NOT_COLLECTED = "not_collected"  # the source lacks it (a bundle without that file)
    ERROR = "error"  # the server failed or the data was unreadable
    # Listed, but some objects were unreadable and dropped: those in hand are judged, and what
    # was dropped may hide a failure (never a pass).
    PARTIAL = "partial"


# Statuses whose objects are in the inventory.
IN_HAND = frozenset({KindStatus.OK, KindStatus.PARTIAL})


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
# What the API adds to metadata that no check reads: managedFields is the bulk of most objects.
_DROPPED_METADATA = frozenset({"managedFields", "selfLink"})


# Container fields that repeat across a workload's pods and templates; volumeMounts, which name
# each pod's own token volume, rarely do, so hashing them would cost without saving.
_SHARED_FIELDS = frozenset(
    {
        "image",
        "env",
        "envFrom",
        "resources",
        "securityContext",
        "ports",
        "args",
        "command",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "imagePullPolicy",
        "terminationMessagePath",
        "terminationMessagePolicy",
    }
)


class Shared:
    """Equal values shared between the objects of one collection, held once in memory.

    The pods of a Deployment, its ReplicaSets' templates and its own template repeat the same
    container images, environments, ports, security contexts, labels: at 10,000 pods the
    inventory is a third smaller when each distinct value is one object (bench/). Trimmed
    objects are read-only (checks are pure), so sharing is safe; whoever edits an inventory
    object deep-copies it first (pipeline.demo_stories).
    """

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}

    def value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            # The API serialises equal objects alike. A 128-bit digest, not the bytes, keys
            # the table: holding the bytes of every distinct value would cost more memory than
            # sharing saves; a collision is as likely as guessing a random 128-bit key.
            key: Any = hashlib.blake2b(orjson.dumps(value), digest_size=16).digest()
        elif isinstance(value, str):
            key = value
        else:
            return value
        return self._values.setdefault(key, value)

    def pod_spec(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            return
        for list_name in ("containers", "initContainers", "ephemeralContainers"):
            containers = spec.get(list_name)
            if isinstance(containers, list):
                spec[list_name] = [
                    {k: self.value(v) if k in _SHARED_FIELDS else v for k, v in c.items()}
                    if isinstance(c, dict)
                    else c
                    for c in containers
                ]
        for name in ("tolerations", "securityContext", "affinity", "nodeSelector"):
            if name in spec:
                spec[name] = self.value(spec[name])

    def share(self, key: str, trimmed: JSON) -> JSON:
        metadata = trimmed.get("metadata")
        if isinstance(metadata, dict):
            for name in ("labels", "annotations", "ownerReferences"):
                if name in metadata:
                    metadata[name] = self.value(metadata[name])
        spec = trimmed.get("spec")
        if not isinstance(spec, dict):
            return trimmed
        if key == "pods":
            self.pod_spec(spec)
        elif key == "cronjobs":
            job = spec.get("jobTemplate")
            job_spec = job.get("spec") if isinstance(job, dict) else None
            template = job_spec.get("template") if isinstance(job_spec, dict) else None
            if isinstance(template, dict):
                self.pod_spec(template.get("spec"))
        elif isinstance(template := spec.get("template"), dict):
            self.pod_spec(template.get("spec"))
        return trimmed


def trim(key: str, obj: JSON, shared: Shared | None = None) -> JSON:
    """Drop what is known to be bulky and unread; keep everything else. Mutate-free.

    The bulk of a list response is managedFields, the last-applied annotation and `status`,
    which checks read only a few fields of; those go. Every other field is kept as the API
    sent it, so a field a check reads (a ServiceAccount's top-level
    automountServiceAccountToken, a Role's aggregationRule) can never be lost in collection.
    It runs once per listed object (tens of thousands per collection), so it is written for
    speed: kept values are shared with `obj`, never copied.
    """
    trimmed: JSON = {}
    for name, value in obj.items():
        if name == "metadata":
            trimmed["metadata"] = _trim_metadata(value)
        elif name == "status":
            if value and key in _KEPT_STATUS:
                trimmed["status"] = _trim_status(key, value)
        else:
            trimmed[name] = value
    if "metadata" not in trimmed:
        trimmed["metadata"] = {}
    if key == "vulnerabilityreports":
        report = obj.get("report") or {}
        trimmed["report"] = {
            "summary": report.get("summary"),
            "artifact": report.get("artifact"),
            "registry": report.get("registry"),
        }
    elif key == "customresourcedefinitions":
        # The OpenAPI schemas are megabytes; checks read which groups and kinds exist.
        spec = obj.get("spec") or {}
        trimmed["spec"] = {"group": spec.get("group"), "names": spec.get("names")}
    return shared.share(key, trimmed) if shared is not None else trimmed


def _trim_metadata(metadata: Any) -> Any:
    if not isinstance(metadata, dict):
        return metadata  # left for validation to judge; never guessed at here
    kept = {k: v for k, v in metadata.items() if k not in _DROPPED_METADATA}
    annotations = kept.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        kept["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return kept


def _trim_status(key: str, status: Any) -> Any:
    if not isinstance(status, dict):
        return status
    kept = {k: status[k] for k in _KEPT_STATUS[key] if k in status}
    for list_name in ("containerStatuses", "initContainerStatuses"):
        statuses = kept.get(list_name)
        if isinstance(statuses, list):
            kept[list_name] = [
                {k: cs[k] for k in _KEPT_CONTAINER_STATUS if k in cs}
                if isinstance(cs, dict)
                else cs
                for cs in statuses
            ]
    return kept


@dataclass
class Inventory:
    """Everything one collection saw.

    `objects[key]` exists only when `kind_status[key]` is OK (the complete list) or PARTIAL
    (the objects that were valid; `has(key)` is False for those, `in_hand(key)` True).
    """

    version: JSON | None = None
    objects: dict[str, list[JSON]] = field(default_factory=dict)
    kind_status: dict[str, KindStatus] = field(default_factory=dict)
    kind_errors: dict[str, str] = field(default_factory=dict)
    # Status codes of unauthenticated GETs, e.g. {"/version": 200, "/api": 403}; None when the
    # source could not probe (an evidence bundle) or the probe was not reachable.
    anonymous_probe: dict[str, int] | None = None
    # Provider control-plane data by provider ("gke", "eks"): {"cluster": the document,
    # "source": where it came from, extras}; see clusters/providers. Empty when none was read.
    provider: dict[str, JSON] = field(default_factory=dict)
    # Imported kube-bench runs: {"nodes": {node: {"source", "results"}}, "problems": [...]};
    # see clusters/kube_bench.py. Empty when none was imported.
    node_benchmarks: JSON = field(default_factory=dict)
    source: str = ""
    # Views derived from the objects (workload and RBAC indexes, parsed nodes, ...): built once
    # by the first check that needs one and shared by the rest; dropped when the objects change.
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def has(self, key: str) -> bool:
        """Listed completely."""
        return self.kind_status.get(key) == KindStatus.OK

    def complete(self, key: str) -> bool:
        """Everything of this resource is known: listed completely, or an optional add-on the
        cluster does not serve (known to be absent)."""
        status = self.kind_status.get(key)
        if status == KindStatus.OK:
            return True
        return status == KindStatus.NOT_SERVED and key in BY_KEY and BY_KEY[key].optional

    def in_hand(self, key: str) -> bool:
        """Some objects of this resource were collected (all of them, or all readable ones)."""
        return self.kind_status.get(key) in IN_HAND

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

    def mark_partial(self, key: str, reason: str) -> None:
        """Some listed objects were unreadable and left out; the rest stay, judged as evidence."""
        self.objects.setdefault(key, [])
        self.kind_status[key] = KindStatus.PARTIAL
        self.kind_errors[key] = redact(reason)
        self.forget_derived()

    def set_missing(self, key: str, status: KindStatus, reason: str) -> None:
        self.objects.pop(key, None)
        self.kind_status[key] = status
        self.kind_errors[key] = redact(reason)  # reasons quote what servers and files said
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

    def digest(self) -> str:
        """A fingerprint of everything a check can read here: equal digests, equal inventories.

        Objects are hashed as collected (trimmed), with every kind's status and error, the
        version, the anonymous probe and the provider data; ~0.2 s for 10,000 pods.
        """
        hasher = hashlib.blake2b(digest_size=32)
        for part in (
            self.version,
            sorted((k, str(v)) for k, v in self.kind_status.items()),
            sorted(self.kind_errors.items()),
            self.anonymous_probe,
            self.provider,
            # Only when imported: inventories without kube-bench keep the digests they had.
            *([self.node_benchmarks] if self.node_benchmarks else []),
        ):
            hasher.update(orjson.dumps(part, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
        for key in sorted(self.objects):
            hasher.update(key.encode())
            for item in self.objects[key]:
                hasher.update(orjson.dumps(item))
        return hasher.hexdigest()


@contextmanager
def gc_paused(*, cycles: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while parsed API JSON piles up.

    Parsing allocates millions of dicts and lists; each allocation burst triggers a collection
    that scans the whole growing pile, which made 50,000 pods cost 1.5x per pod what 10,000 did
    (bench/). Parsed JSON holds no reference cycles, so reference counting still frees every
    page; the collector is restored (and runs as usual) afterwards.

    What survives the pause (the inventory) is long-lived, so it is moved straight to the
    oldest generation: left in the youngest, the next two young collections would each scan
    every object of it (0.3-0.5 s at 10,000 pods) only to promote it there anyway.

    With `cycles`, the work inside does leave reference cycles (a report's WeasyPrint boxes):
    they are collected once when the pause ends, instead of the survivors being promoted. A
    caller that had paused the collector itself keeps it paused either way.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not cycles:
                _promote_survivors()
            gc.enable()
            if cycles:
                gc.collect()


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
