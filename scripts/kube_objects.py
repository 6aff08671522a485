"""Deterministic builders for Kubernetes objects as `kubectl get -A -o json` prints them.

Used by `generate_demo_bundles.py`. Every uid, hash suffix, digest, IP and timestamp is derived
from the cluster name and the object's name, so regenerating the demo bundles gives byte-identical
files and a reviewer sees only real changes in a diff. Objects carry what the API server fills in
(defaults, status, ownerReferences, managedFields on some) so that readers are exercised against
realistic shapes, not against what Rampart's own checks happen to read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clusters.resources import BY_KEY

JSON = dict[str, Any]
# Kubernetes' SafeEncodeString alphabet, used for pod-template-hash and generated name suffixes.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_UID_NAMESPACE = uuid.UUID("6f1d2a4e-2b7c-4c1e-9a55-7d0f3b8e1c42")
RBAC_GROUP = "rbac.authorization.k8s.io"


def digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def suffix(length: int, *parts: object) -> str:
    number = int(digest(*parts), 16)
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def fields_v1(value: Any) -> JSON:
    """A managedFields `fieldsV1` tree for a value, in the API server's f:/k: notation."""
    if isinstance(value, dict):
        return {f"f:{key}": fields_v1(item) for key, item in value.items()}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "name" in v for v in value)
    ):
        return {f'k:{{"name":"{item["name"]}"}}': {".": {}, **fields_v1(item)} for item in value}
    return {}


def image_ref(image: str) -> tuple[str, str]:
    """(image as the kubelet reports it, repository) for a spec image string."""
    name, _, pinned = image.partition("@")
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if rest else f"library/{name}")
    last = name.rsplit("/", 1)[-1]
    repository = name.rsplit(":", 1)[0] if ":" in last else name
    if pinned:
        return f"{repository}@{pinned}", repository
    return (name if ":" in last else f"{name}:latest"), repository


def pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def sa(namespace: str, name: str) -> JSON:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def group(name: str) -> JSON:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def user(name: str) -> JSON:
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": name}


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> JSON:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


READ = ["get", "list", "watch"]
_DEFAULT_TOLERATIONS = [
    {
        "effect": "NoExecute",
        "key": f"node.kubernetes.io/{key}",
        "operator": "Exists",
        "tolerationSeconds": 300,
    }
    for key in ("not-ready", "unreachable")
]
_DAEMON_TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists"},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists"},
    *(
        {"effect": "NoSchedule", "key": f"node.kubernetes.io/{key}", "operator": "Exists"}
        for key in ("disk-pressure", "memory-pressure", "pid-pressure", "unschedulable")
    ),
]


class ClusterBuilder:
    """Objects of one cluster, by resource key, plus the helpers that keep them consistent."""

    def __init__(self, name: str, *, created: str, collected: str, pod_cidr: str, svc_cidr: str):
        self.name = name
        self.created = datetime.fromisoformat(created.replace("Z", "+00:00"))
        self.collected = datetime.fromisoformat(collected.replace("Z", "+00:00"))
        self.objects: dict[str, list[JSON]] = defaultdict(list)
        self.nodes: list[JSON] = []
        self._pod_prefix = pod_cidr  # "10.40": node i gets 10.40.i.0/24
        self._svc_prefix = svc_cidr  # "10.96": services get 10.96.x.y
        self._rv = 400 + int(digest(name)[:4], 16) % 1000
        self._pod_ips: dict[str, int] = defaultdict(lambda: 2)
        self._svc_ips = 20

    # -- metadata -------------------------------------------------------------------------
    def uid(self, *parts: object) -> str:
        return str(uuid.uuid5(_UID_NAMESPACE, "/".join((self.name, *map(str, parts)))))

    def stamp(self, *parts: object, days: tuple[float, float] | None = None) -> str:
        """A fixed time between the cluster's creation and its collection (or within `days`)."""
        span = (self.collected - self.created).total_seconds()
        if days is None:
            low, high = 0.0, span * 0.3
        else:
            low, high = (
                (self.collected - timedelta(days=days[0]) - self.created).total_seconds(),
                (self.collected - timedelta(days=days[1]) - self.created).total_seconds(),
            )
        offset = low + (int(digest(self.name, *parts)[:8], 16) / 0xFFFFFFFF) * (high - low)
        return (self.created + timedelta(seconds=int(offset))).strftime("%Y-%m-%dT%H:%M:%SZ")

    def later(self, stamp: str, seconds: int) -> str:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def rv(self) -> str:
        self._rv += 1 + int(digest(self.name, self._rv)[:4], 16) % 353
        return str(self._rv)

    def meta(
        self,
        key: str,
        name: str,
        namespace: str | None = None,
        *,
        labels: JSON | None = None,
        annotations: JSON | None = None,
        owner: JSON | None = None,
        created: str | None = None,
        generation: int | None = None,
        generate_name: str | None = None,
    ) -> JSON:
        metadata: JSON = {}
        if annotations:
            metadata["annotations"] = annotations
        metadata["creationTimestamp"] = created or self.stamp(key, namespace, name)
        if generate_name:
            metadata["generateName"] = generate_name
        if generation is not None:
            metadata["generation"] = generation
        if labels:
            metadata["labels"] = labels
        metadata["name"] = name
        if namespace is not None:
            metadata["namespace"] = namespace
        if owner is not None:
            metadata["ownerReferences"] = [self.owner_ref(owner)]
        metadata["resourceVersion"] = self.rv()
        metadata["uid"] = self.uid(key, namespace or "", name)
        return metadata

    @staticmethod
    def owner_ref(obj: JSON) -> JSON:
        return {
            "apiVersion": obj["apiVersion"],
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"],
        }

    def add(self, key: str, obj: JSON) -> JSON:
        resource = BY_KEY[key]
        obj = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
        self.objects[key].append(obj)
        return obj

    def manage(self, obj: JSON, manager: str, *, fields: JSON, subresource: str = "") -> None:
        """Record a managedFields entry as the API server would after an apply/update."""
        entry = {
            "apiVersion": obj["apiVersion"],
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(fields),
            "manager": manager,
            "operation": "Update",
            "time": obj["metadata"]["creationTimestamp"],
        }
        if subresource:
            entry["subresource"] = subresource
        obj["metadata"].setdefault("managedFields", []).append(entry)

    def applied(self, obj: JSON) -> None:
        """Mark an object as created by `kubectl apply` (annotation + managedFields)."""
        shown = {k: v for k, v in obj.items() if k not in ("status",)}
        shown["metadata"] = {
            k: obj["metadata"][k] for k in ("name", "namespace", "labels") if k in obj["metadata"]
        }
        text = json.dumps(shown, separators=(",", ":"), sort_keys=True) + "\n"
        obj["metadata"].setdefault("annotations", {})[
            "kubectl.kubernetes.io/last-applied-configuration"
        ] = text
        self.manage(
            obj,
            "kubectl-client-side-apply",
            fields={"metadata": {"annotations": {}, "labels": obj["metadata"].get("labels", {})}}
            | {k: obj[k] for k in ("spec", "rules", "subjects", "roleRef") if k in obj},
        )

    # -- cluster-scoped basics --------------------------------------------------------------
    def namespace(
        self,
        name: str,
        labels: JSON | None = None,
        annotations: JSON | None = None,
        *,
        automount: bool = True,
    ) -> JSON:
        system = name.startswith("kube-") or name == "default"
        obj = self.add(
            "namespaces",
            {
                "metadata": self.meta(
                    "namespaces",
                    name,
                    labels={"kubernetes.io/metadata.name": name, **(labels or {})},
                    annotations=annotations,
                    created=self.created.strftime("%Y-%m-%dT%H:%M:%SZ")
                    if system
                    else self.stamp("ns", name),
                ),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )
        if labels:
            self.manage(obj, "kubectl-label", fields={"metadata": {"labels": labels}})
        default_sa = self.service_account(name, "default")
        if not automount:  # hardened clusters turn off the default ServiceAccount's token
            default_sa["automountServiceAccountToken"] = False
        return obj

    def service_account(self, namespace: str, name: str, annotations: JSON | None = None) -> JSON:
        return self.add(
            "serviceaccounts",
            {"metadata": self.meta("serviceaccounts", name, namespace, annotations=annotations)},
        )

    def node(
        self,
        name: str,
        *,
        kubelet: str,
        runtime: str,
        kernel: str,
        os_image: str,
        labels: JSON,
        provider_id: str = "",
        taints: list[JSON] | None = None,
        external_ip: str | None = None,
        cpu: int = 4,
        memory_gi: int = 16,
        annotations: JSON | None = None,
    ) -> JSON:
        index = len(self.nodes)
        internal_ip = f"10.128.0.{10 + index}"
        addresses = [{"address": internal_ip, "type": "InternalIP"}]
        if external_ip:
            addresses.append({"address": external_ip, "type": "ExternalIP"})
        addresses.append({"address": name, "type": "Hostname"})
        ready_since = self.stamp("node-ready", name, days=(40, 20))
        conditions = [
            {
                "lastHeartbeatTime": self.later(self.collected.strftime("%Y-%m-%dT%H:%M:%SZ"), -41),
                "lastTransitionTime": ready_since,
                "message": message,
                "reason": reason,
                "status": status,
                "type": kind,
            }
            for kind, status, reason, message in (
                (
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                (
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                (
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            )
        ]
        capacity = {
            "cpu": str(cpu),
            "ephemeral-storage": "98831908Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{memory_gi * 1024 * 1024 - 1290 * 1024}Ki",
            "pods": "110",
        }
        allocatable = capacity | {
            "cpu": f"{cpu * 1000 - 70 - cpu * 10}m",
            "ephemeral-storage": "47060071478",
            "memory": f"{memory_gi * 1024 * 1024 - 3400 * 1024}Ki",
        }
        spec: JSON = {"podCIDR": f"{self._pod_prefix}.{index}.0/24"}
        spec["podCIDRs"] = [spec["podCIDR"]]
        if provider_id:
            spec["providerID"] = provider_id
        if taints:
            spec["taints"] = taints
        node_labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            **labels,
        }
        obj = self.add(
            "nodes",
            {
                "metadata": self.meta(
                    "nodes",
                    name,
                    labels=node_labels,
                    annotations={
                        "node.alpha.kubernetes.io/ttl": "0",
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                        **(annotations or {}),
                    },
                    created=self.stamp("node", name, days=(60, 30)),
                ),
                "spec": spec,
                "status": {
                    "addresses": addresses,
                    "allocatable": allocatable,
                    "capacity": capacity,
                    "conditions": conditions,
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "images": [],
                    "nodeInfo": {
                        "architecture": "amd64",
                        "bootID": self.uid("boot", name),
                        "containerRuntimeVersion": runtime,
                        "kernelVersion": kernel,
                        "kubeProxyVersion": "",
                        "kubeletVersion": kubelet,
                        "machineID": digest("machine", self.name, name)[:32],
                        "operatingSystem": "linux",
                        "osImage": os_image,
                        "systemUUID": self.uid("system", name),
                    },
                },
            },
        )
        self.manage(obj, "kubelet", fields={"status": {"nodeInfo": {}}}, subresource="status")
        self.nodes.append(obj)
        return obj

    def node_ip(self, node: str) -> str:
        for obj in self.nodes:
            if obj["metadata"]["name"] == node:
                return obj["status"]["addresses"][0]["address"]
        raise KeyError(node)

    def cluster_ip(self, fixed: str | None = None) -> str:
        if fixed:
            return f"{self._svc_prefix}.{fixed}"
        self._svc_ips += 1 + int(digest(self.name, self._svc_ips)[:2], 16) % 40
        return f"{self._svc_prefix}.{self._svc_ips // 250}.{self._svc_ips % 250}"

    def pod_ip(self, node: str) -> str:
        index = next(i for i, n in enumerate(self.nodes) if n["metadata"]["name"] == node)
        self._pod_ips[node] += 1
        return f"{self._pod_prefix}.{index}.{self._pod_ips[node]}"

    def finish(self) -> None:
        """Fill each node's status.images from the pods it runs, as the kubelet reports them."""
        images: dict[str, dict[str, int]] = defaultdict(dict)
        for pod in self.objects["pods"]:
            node = pod["spec"].get("nodeName")
            for status in pod["status"].get("containerStatuses", []):
                size = 4_000_000 + int(digest(status["image"])[:6], 16) * 7
                images[node][status["imageID"] + "\n" + status["image"]] = size
        for node in self.nodes:
            node["status"]["images"] = [
                {"names": sorted(set(key.split("\n"))), "sizeBytes": size}
                for key, size in sorted(images[node["metadata"]["name"]].items())
            ]

    def bundle(self, omit: tuple[str, ...] = ()) -> dict[str, JSON]:
        """Files of the evidence bundle: `kubectl get <key> -A -o json` output per resource.

        Every resource in clusters/resources.py is written (an empty List when the cluster has
        none) except `omit`: those were not served or the collector was forbidden to list them;
        and except custom resources whose CRD this cluster lacks, which it does not serve (the
        reader knows them absent from customresourcedefinitions.json).
        """
        installed = {
            f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
            for crd in self.objects.get("customresourcedefinitions", [])
        }
        files = {}
        for key in BY_KEY:
            resource = BY_KEY[key]
            if key in omit or (resource.custom and key not in installed):
                continue
            items = self.objects.get(key, [])
            ordered = sorted(
                items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
            )
            files[key] = {
                "apiVersion": "v1",
                "items": ordered,
                "kind": "List",
                "metadata": {"resourceVersion": ""},
            }
        return files

    def copy(self, value: Any) -> Any:
        return copy.deepcopy(value)

    @property
    def tolerations(self) -> list[JSON]:
        return copy.deepcopy(_DEFAULT_TOLERATIONS)

    @property
    def daemon_tolerations(self) -> list[JSON]:
        return copy.deepcopy(_DAEMON_TOLERATIONS)
