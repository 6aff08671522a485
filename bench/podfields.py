"""Pods as a v1.35 API server returns them, not as their template reads (shapes with
`admitted_pods`, bench/shapes.py).

What admission, the scheduler and the kubelet add to every pod of a Deployment, and what makes
a real pod several times the size of its template: the service-account token volume and its
mount in every container, default tolerations and scheduling fields, conditions with transition
times, container statuses with their mounts, user and resources, and managedFields whose
FieldsV1 trees mirror every field each manager set (kube-controller-manager for the spec,
the kubelet for the status).

Built once per Deployment and shared by its pods (the generator's memory contract): the values
differ per pod only where synth.py puts per-pod values (name, uid, node, IPs, container IDs).
"""

from __future__ import annotations

from typing import Any

import orjson

JSON = dict[str, Any]
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_LIST_KEYS = ("name", "type", "containerPort", "ip", "mountPath", "key")


def admitted(
    *,
    spec: JSON,
    statuses: list[JSON],
    labels: JSON,
    owner: list[JSON],
    token_suffix: str,
    created: str,
    started: str,
) -> tuple[JSON, list[JSON], list[JSON], list[JSON]]:
    """(pod spec, container statuses, conditions, managedFields) for the pods of one template."""
    volume = f"kube-api-access-{token_suffix}"
    token_mount = {"name": volume, "mountPath": SERVICE_ACCOUNT_MOUNT, "readOnly": True}
    containers = [
        {**c, "volumeMounts": [*(c.get("volumeMounts") or []), token_mount]}
        for c in spec["containers"]
    ]
    pod_spec = {
        **spec,
        "containers": containers,
        "volumes": [*(spec.get("volumes") or []), _token_volume(volume)],
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "serviceAccount": spec.get("serviceAccountName", "default"),
        "tolerations": [
            {
                "key": f"node.kubernetes.io/{taint}",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
            for taint in ("not-ready", "unreachable")
        ],
    }
    full_statuses = [
        {
            **status,
            "lastState": {},
            "allocatedResources": container.get("resources", {}).get("requests", {}),
            "resources": container.get("resources", {}),
            "user": {"linux": {"uid": 10001, "gid": 10001, "supplementalGroups": [10001]}},
            "volumeMounts": [
                {**m, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else m
                for m in container["volumeMounts"]
            ],
        }
        for status, container in zip(statuses, containers, strict=True)
    ]
    conditions = [
        {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": at}
        for kind, at in (
            ("PodReadyToStartContainers", started),
            ("Initialized", created),
            ("Ready", started),
            ("ContainersReady", started),
            ("PodScheduled", created),
        )
    ]
    status_shape = {
        "conditions": conditions,
        "containerStatuses": full_statuses,
        "hostIP": "",
        "hostIPs": [{"ip": ""}],
        "phase": "",
        "podIP": "",
        "podIPs": [{"ip": ""}],
        "startTime": "",
    }
    managed = [
        _managed(
            "kube-controller-manager",
            created,
            {
                "f:metadata": {
                    "f:generateName": {},
                    "f:labels": fields_v1(labels),
                    "f:ownerReferences": {
                        ".": {},
                        f'k:{{"uid":"{owner[0]["uid"]}"}}': {},
                    },
                },
                "f:spec": fields_v1(spec),
            },
        ),
        _managed("kubelet", started, {"f:status": fields_v1(status_shape)}, subresource="status"),
    ]
    return pod_spec, full_statuses, conditions, managed


def fields_v1(value: Any) -> JSON:
    """The FieldsV1 tree of a value: `f:` per map key, `k:{...}` per keyed list item, `.` for a
    map or item that is itself set, `{}` for leaves and atomic lists (as the API server writes)."""
    if isinstance(value, dict):
        return {f"f:{key}": _node(item) for key, item in value.items()}
    return {}


def _node(value: Any) -> JSON:
    if isinstance(value, dict):
        return {".": {}, **fields_v1(value)} if value else {}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        key = next((k for k in _LIST_KEYS if all(k in v for v in value)), None)
        if key is not None:
            return {
                "k:" + orjson.dumps({key: item[key]}).decode(): {".": {}, **fields_v1(item)}
                for item in value
            }
    return {}


def _managed(manager: str, time: str, fields: JSON, *, subresource: str = "") -> JSON:
    entry: JSON = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "v1",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _token_volume(name: str) -> JSON:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {
                                    "apiVersion": "v1",
                                    "fieldPath": "metadata.namespace",
                                },
                            }
                        ]
                    }
                },
            ],
        },
    }
