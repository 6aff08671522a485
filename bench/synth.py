"""Synthetic clusters for benchmarks and the fake API server.

    objects, version = synthetic_cluster(50_000, seed=1)
    write_bundle(objects, version, Path("/tmp/big-bundle"))

`objects` maps every resource key of clusters/resources.py to a list of API objects shaped as
the API server returns them (kind/apiVersion, full metadata with a large
`kubectl.kubernetes.io/last-applied-configuration` and managedFields, spec, status). Sizes
scale with the pod count: a namespace per ~50 pods, a node per ~30, a Deployment, its
ReplicaSet and a Service per 10 pods (the default shape) or per 1-2 pods (`shape="findings"`,
about ten open findings a pod), a default-deny NetworkPolicy in most namespaces, a Role and
RoleBindings per namespace. The shape (bench/shapes.py) decides which templates fail which
checks, deterministically, so checks have work to do.

Fast and memory-aware: a Deployment's pod template is built once; its pods share labels,
annotations, managedFields, containers and volumes and differ only in name, uid, node, IPs and
container IDs. Treat the objects as read-only (as `trim` does); deepcopy one before editing.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.podfields import admitted
from bench.shapes import SHAPES, Shape
from clusters.resources import BY_KEY, RESOURCES

JSON = dict[str, Any]
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_BASE_TIME = datetime(2026, 10, 1, 8, 0, 0, tzinfo=UTC)
_VERSION = "v1.35.8"
PODS_PER_NAMESPACE = 50
PODS_PER_NODE = 30


def synthetic_cluster(
    pods: int, *, seed: int = 0, shape: str = "default"
) -> tuple[dict[str, list[JSON]], JSON]:
    """(objects by resource key, GET /version body) of a cluster running `pods` pods.

    `shape` (bench/shapes.py) chooses the Deployments' replicas and pod templates.
    """
    return _Synth(pods, seed, SHAPES[shape]).build()


def write_bundle(objects: dict[str, list[JSON]], version: JSON, directory: Path) -> None:
    """Write an evidence bundle: `<key>.json` as `kubectl get <key> -A -o json`, `version.json`.

    Items are serialized one at a time, so a 50,000-pod list never exists twice in memory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for key, items in objects.items():
        with (directory / f"{key}.json").open("wb") as out:
            out.write(
                b'{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":""},"items":['
            )
            for index, item in enumerate(items):
                if index:
                    out.write(b",\n")
                out.write(orjson.dumps(item))
            out.write(b"]}\n")
    (directory / "version.json").write_bytes(orjson.dumps(version, option=orjson.OPT_INDENT_2))


def _stamp(seconds: float) -> str:
    return (_BASE_TIME + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Synth:
    def __init__(self, pods: int, seed: int, shape: Shape) -> None:
        if pods < 0:
            raise ValueError("pods must be >= 0")
        self.pods = pods
        self.shape = shape
        self.rng = random.Random(seed)
        self.rv = 1000
        self.objects: dict[str, list[JSON]] = {resource.key: [] for resource in RESOURCES}
        self.namespaces = [
            f"team-{i:04d}" for i in range(max(1, math.ceil(pods / PODS_PER_NAMESPACE)))
        ]
        self.nodes = [f"node-{i:05d}" for i in range(max(1, math.ceil(pods / PODS_PER_NODE)))]

    # -- small helpers ------------------------------------------------------------------------
    def uid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"

    def next_rv(self) -> str:
        self.rv += 1 + self.rng.randrange(7)
        return str(self.rv)

    def suffix(self, length: int) -> str:
        return "".join(self.rng.choices(_ALPHABET, k=length))

    def add(self, key: str, body: JSON) -> JSON:
        resource = BY_KEY[key]
        obj = {"apiVersion": resource.api_version, "kind": resource.kind, **body}
        self.objects[key].append(obj)
        return obj

    def meta(self, name: str, namespace: str | None = None, **extra: Any) -> JSON:
        metadata: JSON = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        metadata |= {
            "uid": self.uid(),
            "resourceVersion": self.next_rv(),
            "creationTimestamp": _stamp(self.rng.randrange(86400 * 20)),
        }
        return metadata | extra

    @staticmethod
    def owner(obj: JSON) -> list[JSON]:
        return [
            {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    # -- the cluster ----------------------------------------------------------------------------
    def build(self) -> tuple[dict[str, list[JSON]], JSON]:
        self._nodes()
        self._namespaces()
        remaining = self.pods
        index = 0
        while remaining > 0:
            replicas = min(self.shape.replicas(index), remaining)
            namespace = self.namespaces[
                (index // self.shape.deployments_per_namespace) % len(self.namespaces)
            ]
            self._deployment(index, namespace, replicas)
            remaining -= replicas
            index += 1
        self._rbac()
        version = {
            "major": "1",
            "minor": "35",
            "emulationMajor": "1",
            "emulationMinor": "35",
            "minCompatibilityMajor": "1",
            "minCompatibilityMinor": "34",
            "gitVersion": _VERSION,
            "gitCommit": f"{random.Random(0).getrandbits(160):040x}",
            "gitTreeState": "clean",
            "buildDate": "2026-08-20T10:11:12Z",
            "goVersion": "go1.24.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        return self.objects, version

    def _nodes(self) -> None:
        for index, name in enumerate(self.nodes):
            self.add(
                "nodes",
                {
                    "metadata": self.meta(
                        name,
                        labels={
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "node.kubernetes.io/instance-type": "m6i.2xlarge",
                            "topology.kubernetes.io/zone": f"zone-{'abc'[index % 3]}",
                        },
                    ),
                    "spec": {"podCIDR": f"10.{index // 256}.{index % 256}.0/24"},
                    "status": {
                        "addresses": [
                            {"type": "InternalIP", "address": self._node_ip(index)},
                            {"type": "Hostname", "address": name},
                        ],
                        "conditions": [
                            {"type": "Ready", "status": "True", "reason": "KubeletReady"}
                        ],
                        "nodeInfo": {
                            "kubeletVersion": "v1.35.7" if index % 10 == 9 else _VERSION,
                            "containerRuntimeVersion": "containerd://2.0.6",
                            "kernelVersion": "6.8.0-1021-aws",
                            "osImage": "Ubuntu 24.04.2 LTS",
                            "operatingSystem": "linux",
                            "architecture": "amd64",
                        },
                    },
                },
            )

    @staticmethod
    def _node_ip(index: int) -> str:
        return f"172.16.{index // 250}.{index % 250 + 2}"

    def _namespaces(self) -> None:
        for index, name in enumerate(self.namespaces):
            labels = {"kubernetes.io/metadata.name": name}
            if index % 3:
                labels["pod-security.kubernetes.io/enforce"] = "baseline"
            self.add(
                "namespaces",
                {
                    "metadata": self.meta(name, labels=labels),
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )
            self.add("serviceaccounts", {"metadata": self.meta("default", name)})
            if index % 7 != 6:  # every seventh namespace lacks a default-deny policy
                self.add(
                    "networkpolicies",
                    {
                        "metadata": self.meta("default-deny", name),
                        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                    },
                )

    def _deployment(self, index: int, namespace: str, replicas: int) -> None:
        app = f"svc-{index:05d}"
        labels, spec = self.shape.template(index, app)
        template = {"metadata": {"labels": labels}, "spec": spec}
        deployment_spec = {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": template,
        }
        # One large annotation string, shared by the Deployment and all its pods.
        applied = orjson.dumps(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "namespace": namespace},
                "spec": deployment_spec,
            }
        )
        annotations = {"kubectl.kubernetes.io/last-applied-configuration": applied.decode() + "\n"}
        managed = [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "v1",
                "time": _stamp(0),
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
                    "f:spec": {"f:containers": {'k:{"name":"app"}': {}, 'k:{"name":"proxy"}': {}}},
                },
            }
        ]
        deployment = self.add(
            "deployments",
            {
                "metadata": self.meta(
                    app, namespace, labels=labels, annotations=annotations, generation=1
                ),
                "spec": deployment_spec,
                "status": {
                    "replicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                },
            },
        )
        pod_hash = self.suffix(10)
        rs_labels = {**labels, "pod-template-hash": pod_hash}
        rs_name = f"{app}-{pod_hash}"
        rs = self.add(
            "replicasets",
            {
                "metadata": self.meta(
                    rs_name, namespace, labels=rs_labels, ownerReferences=self.owner(deployment)
                ),
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": rs_labels},
                    "template": {"metadata": {"labels": rs_labels}, "spec": spec},
                },
                "status": {"replicas": replicas, "readyReplicas": replicas},
            },
        )
        rs_owner = self.owner(rs)
        self.add(
            "services",
            {
                "metadata": self.meta(app, namespace, labels=labels),
                "spec": {
                    "type": "LoadBalancer" if index % 50 == 13 else "ClusterIP",
                    "selector": labels,
                    "clusterIP": f"10.96.{index // 250 % 256}.{index % 250 + 1}",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                },
                "status": {"loadBalancer": {}},
            },
        )
        statuses = [
            {
                "name": c["name"],
                "image": c["image"],
                "ready": True,
                "restartCount": 0,
                "started": True,
                "imageID": c["image"].split("@")[0].rsplit(":", 1)[0]
                + "@sha256:"
                + f"{index:064x}",
            }
            for c in spec["containers"]
        ]
        conditions = [
            {"type": kind, "status": "True"}
            for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        # Replicas of one rollout start within the same second: share the timestamp strings.
        created = self.rng.randrange(86400 * 20)
        created_at, started_at = _stamp(created), _stamp(created + 2)
        running = {"running": {"startedAt": _stamp(created + 4)}}
        pod_spec = spec
        if self.shape.admitted_pods:  # pods as stored, several times their template's size
            pod_spec, statuses, conditions, managed = admitted(
                spec=spec,
                statuses=statuses,
                labels=rs_labels,
                owner=rs_owner,
                token_suffix=self.suffix(5),
                created=created_at,
                started=started_at,
            )
        names: set[str] = set()
        for replica in range(replicas):
            name = f"{rs_name}-{self.suffix(5)}"
            while name in names:
                name = f"{rs_name}-{self.suffix(5)}"
            names.add(name)
            node_index = self.rng.randrange(len(self.nodes))
            host_ip = self._node_ip(node_index)
            pod_ip = (
                host_ip
                if spec.get("hostNetwork")
                else f"10.{node_index // 256}.{node_index % 256}.{replica + 2}"
            )
            self.rv += 1
            self.objects["pods"].append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "generateName": f"{rs_name}-",
                        "namespace": namespace,
                        "uid": self.uid(),
                        "resourceVersion": str(self.rv),
                        "creationTimestamp": created_at,
                        "labels": rs_labels,
                        "annotations": annotations,
                        "ownerReferences": rs_owner,
                        "managedFields": managed,
                    },
                    "spec": {**pod_spec, "nodeName": self.nodes[node_index]},
                    "status": {
                        "phase": "Running",
                        "conditions": conditions,
                        "hostIP": host_ip,
                        "podIP": pod_ip,
                        "podIPs": [{"ip": pod_ip}],
                        "qosClass": "Burstable",
                        "startTime": started_at,
                        "containerStatuses": [
                            {
                                **status,
                                "containerID": f"containerd://{self.rng.getrandbits(256):064x}",
                                "state": running,
                            }
                            for status in statuses
                        ],
                    },
                }
            )

    def _rbac(self) -> None:
        star = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
        admin = self.add("clusterroles", {"metadata": self.meta("cluster-admin"), "rules": [star]})
        view = self.add(
            "clusterroles",
            {
                "metadata": self.meta("view"),
                "rules": [
                    {
                        "apiGroups": ["", "apps"],
                        "resources": ["pods", "services", "deployments"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
            },
        )
        group = "rbac.authorization.k8s.io"
        self.add(
            "clusterrolebindings",
            {
                "metadata": self.meta("cluster-admin"),
                "roleRef": {
                    "apiGroup": group,
                    "kind": "ClusterRole",
                    "name": admin["metadata"]["name"],
                },
                "subjects": [{"apiGroup": group, "kind": "Group", "name": "system:masters"}],
            },
        )
        for index, namespace in enumerate(self.namespaces):
            rules = (
                [star]
                if index % 41 == 9
                else [
                    {
                        "apiGroups": ["apps"],
                        "resources": ["deployments"],
                        "verbs": ["get", "list", "patch", "update"],
                    }
                ]
            )
            self.add("roles", {"metadata": self.meta("deployer", namespace), "rules": rules})
            self.add(
                "rolebindings",
                {
                    "metadata": self.meta("deployer", namespace),
                    "roleRef": {"apiGroup": group, "kind": "Role", "name": "deployer"},
                    "subjects": [
                        {"kind": "ServiceAccount", "name": "default", "namespace": namespace}
                    ],
                },
            )
            self.add(
                "rolebindings",
                {
                    "metadata": self.meta("viewers", namespace),
                    "roleRef": {
                        "apiGroup": group,
                        "kind": "ClusterRole",
                        "name": view["metadata"]["name"],
                    },
                    "subjects": [
                        {
                            "apiGroup": group,
                            "kind": "Group",
                            "name": f"{namespace}-viewers@example.com",
                        }
                    ],
                },
            )
