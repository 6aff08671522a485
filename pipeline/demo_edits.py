"""Edits of a copy of a demo bundle's inventory, the steps the demo stories are made of.

Variants share the bundle's object dicts; an edit replaces a resource's list and deep-copies
only the objects it changes, so the bundle's inventory is never modified. Generated names and
uids are derived from a seed, so a replayed history is the same every time.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable

from clusters.inventory import JSON, Inventory

# Kubernetes names generated objects from this alphabet (rand.SafeEncodeString).
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


#
# Variants share the bundle's object dicts; an edit replaces a resource's list and deep-copies
# only the objects it changes, so the bundle's inventory is never modified.


def inventory_copy(inventory: Inventory) -> Inventory:
    # A new Inventory, not copy.copy: checks cache indexes in the instance's __dict__
    # (posture.workloads), which must not leak from the bundle into a variant.
    return Inventory(
        version=dict(inventory.version) if inventory.version is not None else None,
        objects=dict(inventory.objects),
        kind_status=dict(inventory.kind_status),
        kind_errors=dict(inventory.kind_errors),
        anonymous_probe=inventory.anonymous_probe,
        provider=dict(inventory.provider),
        node_benchmarks=inventory.node_benchmarks,
        source=inventory.source,
    )


def meta(obj: JSON) -> JSON:
    metadata: JSON = obj.get("metadata") or {}
    return metadata


def named(obj: JSON, namespace: str, name: str) -> bool:
    metadata = meta(obj)
    return bool(metadata.get("namespace", "") == namespace and metadata.get("name") == name)


def owner(obj: JSON) -> str:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("name", ""))
    return ""


def drop(inventory: Inventory, key: str, unwanted: Callable[[JSON], bool]) -> None:
    if inventory.has(key):
        inventory.objects[key] = [obj for obj in inventory.items(key) if not unwanted(obj)]


def add(inventory: Inventory, key: str, *objects: JSON) -> None:
    if inventory.has(key):
        inventory.objects[key] = [*inventory.items(key), *objects]


def replace(inventory: Inventory, key: str, change: Callable[[JSON], JSON | None]) -> None:
    """`change` returns a changed deep copy of an object, or None to keep the object as it is."""
    if inventory.has(key):
        inventory.objects[key] = [change(obj) or obj for obj in inventory.items(key)]


def uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rampart-demo:{seed}"))


def suffix(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_SAFE[byte % len(_SAFE)] for byte in digest[:5])


def set_images(pod_spec: JSON, images: dict[str, str]) -> None:
    for container in pod_spec.get("containers") or []:
        if container.get("name") in images:
            container["image"] = images[container["name"]]


def before_rollout(
    inventory: Inventory,
    *,
    namespace: str,
    deployment: str,
    previous: str,
    images: dict[str, str] | None = None,
) -> None:
    """The Deployment as it ran before its latest rollout: its `previous` ReplicaSet's pods.

    The current ReplicaSet did not exist yet; the previous one had its replicas, and their pods
    its pod-template hash in their names. `images` (container -> image) is what the rollout
    changed, if anything. Findings name the Deployment, so none of this may change them.
    """
    replicasets = inventory.items("replicasets")
    current = {
        meta(rs)["name"]: rs
        for rs in replicasets
        if meta(rs).get("namespace") == namespace
        and owner(rs) == deployment
        and (rs.get("spec") or {}).get("replicas")
        and meta(rs)["name"] != previous
    }
    replicas = sum(int(rs["spec"]["replicas"]) for rs in current.values())
    old_hash = previous.removeprefix(f"{deployment}-")
    old_uid = uid(f"{namespace}/{previous}")

    def rolled_back_replicaset(rs: JSON) -> JSON:
        rs = copy.deepcopy(rs)
        meta(rs)["uid"] = old_uid
        rs["spec"]["replicas"] = replicas
        rs["status"] = {"replicas": replicas}
        if images:
            set_images(rs["spec"]["template"]["spec"], images)
        return rs

    inventory.objects["replicasets"] = [
        rolled_back_replicaset(rs) if named(rs, namespace, previous) else rs
        for rs in replicasets
        if meta(rs)["name"] not in current or meta(rs).get("namespace") != namespace
    ]

    def older_pod(pod: JSON) -> JSON | None:
        if meta(pod).get("namespace") != namespace or owner(pod) not in current:
            return None
        pod = copy.deepcopy(pod)
        metadata = meta(pod)
        name = f"{previous}-{suffix(metadata['name'])}"
        metadata.update(name=name, uid=uid(f"{namespace}/{name}"))
        metadata["labels"] = {**metadata.get("labels", {}), "pod-template-hash": old_hash}
        metadata["generateName"] = f"{previous}-"
        for ref in metadata.get("ownerReferences") or []:
            if ref.get("controller"):
                ref.update(name=previous, uid=old_uid)
        if images:
            set_images(pod["spec"], images)
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if status.get("name") in images:
                    status["image"] = images[status["name"]]
                    status.pop("imageID", None)
        return pod

    replace(inventory, "pods", older_pod)
    if images:

        def older_template(obj: JSON) -> JSON | None:
            if not named(obj, namespace, deployment):
                return None
            obj = copy.deepcopy(obj)
            set_images(obj["spec"]["template"]["spec"], images)
            return obj

        replace(inventory, "deployments", older_template)


def kubernetes_version(inventory: Inventory, *, git_version: str, runtime: str) -> None:
    """The control plane, and every node that ran its version, at `git_version`."""
    version = inventory.version or {}
    current = str(version.get("gitVersion", ""))
    minor = git_version.removeprefix("v").split(".")[1]
    inventory.version = {
        **version,
        "gitVersion": git_version,
        "minor": minor,
        "emulationMinor": minor,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitCommit": hashlib.sha256(git_version.encode()).hexdigest()[:40],
    }

    def older_node(node: JSON) -> JSON | None:
        info = (node.get("status") or {}).get("nodeInfo") or {}
        if info.get("kubeletVersion") != current:
            return None  # a node pool that was not upgraded with the control plane
        node = copy.deepcopy(node)
        node["status"]["nodeInfo"].update(
            kubeletVersion=git_version, containerRuntimeVersion=runtime
        )
        return node

    replace(inventory, "nodes", older_node)
    if "gke" in inventory.provider:
        entry = copy.deepcopy(inventory.provider["gke"])
        cluster = entry["cluster"]
        plain, old_plain = current.removeprefix("v"), git_version.removeprefix("v")
        if cluster.get("currentMasterVersion") == plain:
            cluster["currentMasterVersion"] = old_plain
        for pool in cluster.get("nodePools") or []:
            if pool.get("version") == plain:
                pool["version"] = old_plain
        # GKE's upgrade info described the build of its day: not the bundle's.
        entry.pop("upgradeInfo", None)
        inventory.provider = {**inventory.provider, "gke": entry}
