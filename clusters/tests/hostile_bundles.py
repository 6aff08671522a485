"""Hostile evidence bundles, built in code (bombs at test time, never committed at size).

A clean bundle plants a privileged bare pod (`web/miner`) that isolation checks must keep
finding. Kind cases break one whole file (the kind must end up not collected, with the
reason); object cases add one malformed object to a file (dropped and named, the kind partial,
the other objects kept). Archives, bombs and odd entries are in hostile_archives.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

JSON = dict[str, Any]
PLANTED = ("Pod", "web", "miner")


def kubectl_list(kind: str, items: list[JSON]) -> JSON:
    return {"apiVersion": "v1", "kind": "List", "items": [{"kind": kind, **i} for i in items]}


def _pod(name: str, *, privileged: bool = False) -> JSON:
    container: JSON = {"name": "app", "image": "registry.example.com/app:1.2@sha256:" + "a" * 64}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {"metadata": {"name": name, "namespace": "web"}, "spec": {"containers": [container]}}


def clean_files() -> dict[str, JSON]:
    """A small complete bundle; every kind present (most of them empty, which is evidence)."""
    files: dict[str, JSON] = {
        "version.json": {"major": "1", "minor": "31", "gitVersion": "v1.31.4"},
        "namespaces.json": kubectl_list("Namespace", [{"metadata": {"name": "web"}}]),
        "nodes.json": kubectl_list(
            "Node",
            [
                {
                    "metadata": {"name": "node-1"},
                    "status": {
                        "nodeInfo": {
                            "kubeletVersion": "v1.31.4",
                            "containerRuntimeVersion": "containerd://1.7.24",
                            "operatingSystem": "linux",
                        }
                    },
                }
            ],
        ),
        "pods.json": kubectl_list(
            "Pod", [_pod("miner", privileged=True), _pod("web-1"), _pod("web-2")]
        ),
        "services.json": kubectl_list(
            "Service",
            [{"metadata": {"name": "web", "namespace": "web"}, "spec": {"type": "NodePort"}}],
        ),
        "clusterrolebindings.json": kubectl_list(
            "ClusterRoleBinding",
            [
                {
                    "metadata": {"name": "oncall-admin"},
                    "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "User", "name": "oncall@example.com"}],
                }
            ],
        ),
    }
    for key, kind in (
        ("deployments", "Deployment"),
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
        ("replicasets", "ReplicaSet"),
        ("jobs", "Job"),
        ("cronjobs", "CronJob"),
        ("serviceaccounts", "ServiceAccount"),
        ("networkpolicies", "NetworkPolicy"),
        ("ingresses", "Ingress"),
        ("roles", "Role"),
        ("clusterroles", "ClusterRole"),
        ("rolebindings", "RoleBinding"),
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration"),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration"),
        ("runtimeclasses", "RuntimeClass"),
        ("customresourcedefinitions", "CustomResourceDefinition"),
    ):
        files[f"{key}.json"] = kubectl_list(kind, [])
    return files


def write_bundle(directory: Path, files: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        (directory / name).write_bytes(data)
    return directory


@dataclass(frozen=True)
class KindCase:
    """One file replaced: its kind must be not collected (ERROR) with `reason` in its error."""

    id: str
    file: str
    body: Any  # the new content: JSON-able, or raw bytes
    key: str
    reason: str


def kind_cases() -> list[KindCase]:
    pod = _pod("web-9")
    return [
        KindCase("pods-empty-object", "pods.json", {}, "pods", "not a list"),
        KindCase(
            "pods-items-null",
            "pods.json",
            {"kind": "PodList", "items": None},
            "pods",
            "`items` is null",
        ),
        KindCase(
            "pods-items-object",
            "pods.json",
            {"kind": "PodList", "items": {"a": pod}},
            "pods",
            "`items` is an object",
        ),
        KindCase(
            "pods-items-strings",
            "pods.json",
            {"kind": "PodList", "items": ["a", "b"]},
            "pods",
            "item 0 is a string",
        ),
        KindCase(
            "pods-items-numbers",
            "pods.json",
            {"kind": "List", "items": [1, 2]},
            "pods",
            "item 0 is a number",
        ),
        KindCase(
            "pods-items-nulls",
            "pods.json",
            {"kind": "PodList", "items": [None]},
            "pods",
            "item 0 is null",
        ),
        KindCase("pods-a-json-list", "pods.json", [pod], "pods", "is a list, not a kubectl list"),
        KindCase(
            "pods-a-json-string", "pods.json", "pods", "pods", "is a string, not a kubectl list"
        ),
        KindCase("pods-json-null", "pods.json", None, "pods", "is null, not a kubectl list"),
        KindCase("pods-a-single-pod", "pods.json", {"kind": "Pod", **pod}, "pods", "a single Pod"),
        KindCase(
            "pods-list-of-services",
            "pods.json",
            {"kind": "PodList", "items": [{"kind": "Service", **pod}]},
            "pods",
            "is a 'Service', not a Pod",
        ),
        KindCase(
            "pods-mixed-kinds",
            "pods.json",
            {"kind": "List", "items": [{"kind": "Pod", **pod}, {"kind": "Service", **pod}]},
            "pods",
            "mixes kinds",
        ),
        KindCase(
            "pods-kind-a-number", "pods.json", {"kind": 7, "items": [pod]}, "pods", "not a list"
        ),
        KindCase(
            "pods-item-kind-a-number",
            "pods.json",
            {"kind": "PodList", "items": [{"kind": 7, **pod}]},
            "pods",
            "is a '7', not a Pod",
        ),
        KindCase(
            "pods-truncated-json",
            "pods.json",
            b'{"kind": "PodList", "items": [{"metadata"',
            "pods",
            "not valid JSON",
        ),
        KindCase(
            "pods-not-utf8",
            "pods.json",
            b'{"kind": "PodList", "items": ["\xff\xfe"]}',
            "pods",
            "not valid JSON",
        ),
        KindCase(
            "pods-unknown-list-kind",
            "pods.json",
            {"kind": "WidgetList", "items": []},
            "pods",
            "is a 'WidgetList', not a PodList",
        ),
        KindCase(
            "bindings-items-null",
            "clusterrolebindings.json",
            {"kind": "ClusterRoleBindingList", "items": None},
            "clusterrolebindings",
            "`items` is null",
        ),
        KindCase(
            "nodes-items-strings",
            "nodes.json",
            {"kind": "NodeList", "items": ["node-1"]},
            "nodes",
            "item 0 is a string",
        ),
        KindCase("services-empty-object", "services.json", {}, "services", "not a list"),
    ]


def _in(path: tuple[str | int, ...], value: Any) -> Callable[[JSON], JSON]:
    def mutate(obj: JSON) -> JSON:
        changed = copy.deepcopy(obj)
        target: Any = changed
        for step in path[:-1]:
            target = target[step]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return changed

    return mutate


_DELETE = object()


@dataclass(frozen=True)
class ObjectCase:
    """One malformed object added to a file: dropped, named, and its kind PARTIAL."""

    id: str
    file: str
    mutate: Callable[[JSON], JSON]
    key: str
    reason: str


def object_cases() -> list[ObjectCase]:
    containers = ("spec", "containers")
    first = (*containers, 0)
    return [
        ObjectCase(
            "metadata-a-string",
            "pods.json",
            _in(("metadata",), "x"),
            "pods",
            "metadata must be an object",
        ),
        ObjectCase(
            "containers-a-string",
            "pods.json",
            _in(containers, "nope"),
            "pods",
            "spec.containers must be a list",
        ),
        ObjectCase(
            "containers-an-object",
            "pods.json",
            _in(containers, {"name": "app"}),
            "pods",
            "spec.containers must be a list",
        ),
        ObjectCase(
            "container-a-string",
            "pods.json",
            _in(first, "app"),
            "pods",
            "spec.containers[0] must be an object",
        ),
        ObjectCase(
            "no-name",
            "pods.json",
            _in(("metadata", "name"), _DELETE),
            "pods",
            "metadata.name must be present",
        ),
        ObjectCase(
            "name-a-number",
            "pods.json",
            _in(("metadata", "name"), 42),
            "pods",
            "metadata.name must be a string",
        ),
        ObjectCase(
            "no-namespace",
            "pods.json",
            _in(("metadata", "namespace"), _DELETE),
            "pods",
            "metadata.namespace must be present",
        ),
        ObjectCase(
            "labels-not-strings",
            "pods.json",
            _in(("metadata", "labels"), {"app": 1}),
            "pods",
            "metadata.labels['app'] must be a string",
        ),
        ObjectCase(
            "owner-references-a-string",
            "pods.json",
            _in(("metadata", "ownerReferences"), "rs"),
            "pods",
            "ownerReferences must be a list",
        ),
        ObjectCase("no-spec", "pods.json", _in(("spec",), _DELETE), "pods", "spec must be present"),
        ObjectCase(
            "image-a-number",
            "pods.json",
            _in((*first, "image"), 42),
            "pods",
            "image must be a string",
        ),
        ObjectCase(
            "image-a-list",
            "pods.json",
            _in((*first, "image"), ["nginx"]),
            "pods",
            "image must be a string",
        ),
        ObjectCase(
            "ports-a-string",
            "pods.json",
            _in((*first, "ports"), "80"),
            "pods",
            "ports must be a list",
        ),
        ObjectCase(
            "host-port-a-string",
            "pods.json",
            _in((*first, "ports"), [{"hostPort": "x"}]),
            "pods",
            "hostPort must be an integer",
        ),
        ObjectCase(
            "security-context-a-string",
            "pods.json",
            _in((*first, "securityContext"), "privileged"),
            "pods",
            "securityContext must be an object",
        ),
        ObjectCase(
            "privileged-a-string",
            "pods.json",
            _in((*first, "securityContext"), {"privileged": "true"}),
            "pods",
            "privileged must be true or false",
        ),
        ObjectCase(
            "capabilities-add-a-string",
            "pods.json",
            _in((*first, "securityContext"), {"capabilities": {"add": "NET_ADMIN"}}),
            "pods",
            "capabilities.add must be a list",
        ),
        ObjectCase(
            "env-an-object",
            "pods.json",
            _in((*first, "env"), {"A": "1"}),
            "pods",
            "env must be a list",
        ),
        ObjectCase(
            "host-path-a-string",
            "pods.json",
            _in(("spec", "volumes"), [{"name": "root", "hostPath": "/"}]),
            "pods",
            "hostPath must be an object",
        ),
        ObjectCase(
            "host-network-a-string",
            "pods.json",
            _in(("spec", "hostNetwork"), "yes"),
            "pods",
            "hostNetwork must be true or false",
        ),
        ObjectCase(
            "container-statuses-null",
            "pods.json",
            _in(("status",), {"containerStatuses": None}),
            "pods",
            "containerStatuses must be not null",
        ),
        ObjectCase(
            "pod-a-boolean-spec",
            "pods.json",
            _in(("spec",), True),
            "pods",
            "spec must be an object",
        ),
        ObjectCase(
            "subjects-a-string",
            "clusterrolebindings.json",
            _in(("subjects",), "everyone"),
            "clusterrolebindings",
            "subjects must be a list",
        ),
        ObjectCase(
            "subject-without-a-name",
            "clusterrolebindings.json",
            _in(("subjects",), [{"kind": "User"}]),
            "clusterrolebindings",
            "subjects[0].name must be present",
        ),
        ObjectCase(
            "no-role-ref",
            "clusterrolebindings.json",
            _in(("roleRef",), _DELETE),
            "clusterrolebindings",
            "roleRef must be present",
        ),
        ObjectCase(
            "role-ref-a-string",
            "clusterrolebindings.json",
            _in(("roleRef",), "cluster-admin"),
            "clusterrolebindings",
            "roleRef must be an object",
        ),
        ObjectCase(
            "node-info-a-string",
            "nodes.json",
            _in(("status", "nodeInfo"), "x"),
            "nodes",
            "status.nodeInfo must be an object",
        ),
        ObjectCase(
            "kubelet-version-a-number",
            "nodes.json",
            _in(("status", "nodeInfo", "kubeletVersion"), 1.31),
            "nodes",
            "kubeletVersion must be a string",
        ),
        ObjectCase(
            "service-ports-strings",
            "services.json",
            _in(("spec", "ports"), [{"port": "80"}]),
            "services",
            "spec.ports[0].port must be an integer",
        ),
        ObjectCase(
            "service-type-a-list",
            "services.json",
            _in(("spec", "type"), ["NodePort"]),
            "services",
            "spec.type must be a string",
        ),
        ObjectCase(
            "namespace-labels-a-list",
            "namespaces.json",
            _in(("metadata", "labels"), ["a"]),
            "namespaces",
            "metadata.labels must be an object",
        ),
    ]


def with_object_case(case: ObjectCase) -> dict[str, Any]:
    """The clean bundle plus one malformed copy of the file's first object (renamed)."""
    files = clean_files()
    document = files[case.file]
    original = copy.deepcopy(document["items"][0])
    original.setdefault("metadata", {})["name"] = "malformed-object"
    document["items"].append(case.mutate(original))
    return files


def with_kind_case(case: KindCase) -> dict[str, Any]:
    files: dict[str, Any] = clean_files()
    files[case.file] = case.body if isinstance(case.body, bytes) else orjson.dumps(case.body)
    return files
