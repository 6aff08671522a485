"""The shape of every object checks read, validated once where data enters.

Checks are small pure functions that trust the Inventory: `container.get("ports") or []` and
then `port.get("hostPort")`. One pod whose `containers` is the string "nope" would make every
workload check raise, and one object whose `metadata` is "x" would crash the trim. So each
object from a bundle or a live list is checked here first, against exactly the fields `trim()`
and the checks in posture/ read (a field nobody reads is not checked): an object that does not
fit is dropped and named, and its kind becomes partial (`Inventory.mark_partial`), so checks
on it are never a pass on incomplete data.

An explicit null is accepted wherever a field is optional (Kubernetes treats it as unset, and
checks read optional fields as `x.get(k) or default`); names, namespaces and the fields an
object cannot exist without are required.
"""

from __future__ import annotations

from typing import Any

from clusters.resources import BY_KEY
from clusters.shape_grammar import (
    BOOLEAN,
    INT_OR_STRING,
    INTEGER,
    STRING,
    STRING_MAP,
    STRINGS,
    Checker,
    list_of,
    map_of,
    shape,
)

LABEL_SELECTOR = shape(
    {
        "matchLabels": STRING_MAP,
        "matchExpressions": list_of(
            shape({"key": STRING, "operator": STRING, "values": STRINGS}, required=("key",))
        ),
    }
)
OWNER_REFERENCE = shape(
    {"kind": STRING, "name": STRING, "apiVersion": STRING, "uid": STRING, "controller": BOOLEAN},
    required=("kind", "name"),
)
_METADATA_FIELDS: dict[str, Checker] = {
    "name": STRING,
    "namespace": STRING,
    "uid": STRING,
    "labels": STRING_MAP,
    "annotations": STRING_MAP,
    "ownerReferences": list_of(OWNER_REFERENCE),
    "creationTimestamp": STRING,
}
TEMPLATE_METADATA = shape(_METADATA_FIELDS)
_PROFILE = shape({"type": STRING, "localhostProfile": STRING})
SECURITY_CONTEXT = shape(
    {
        "privileged": BOOLEAN,
        "allowPrivilegeEscalation": BOOLEAN,
        "readOnlyRootFilesystem": BOOLEAN,
        "runAsNonRoot": BOOLEAN,
        "runAsUser": INTEGER,
        "runAsGroup": INTEGER,
        "fsGroup": INTEGER,
        "supplementalGroups": list_of(INTEGER),
        "procMount": STRING,
        "capabilities": shape({"add": STRINGS, "drop": STRINGS}),
        "seccompProfile": _PROFILE,
        "appArmorProfile": _PROFILE,
        "seLinuxOptions": shape({"type": STRING, "user": STRING, "role": STRING, "level": STRING}),
        "windowsOptions": shape(
            {"hostProcess": BOOLEAN, "runAsUserName": STRING, "gmsaCredentialSpecName": STRING}
        ),
        "sysctls": list_of(shape({"name": STRING, "value": STRING}, required=("name",))),
    }
)
_HANDLER = shape(
    {
        "exec": shape({"command": STRINGS}),
        "httpGet": shape({"host": STRING, "path": STRING, "port": INT_OR_STRING, "scheme": STRING}),
        "tcpSocket": shape({"host": STRING, "port": INT_OR_STRING}),
    }
)
_NAME_REFERENCE = shape({"name": STRING, "key": STRING})
CONTAINER = shape(
    {
        "name": STRING,
        "image": STRING,
        "imagePullPolicy": STRING,
        "command": STRINGS,
        "args": STRINGS,
        "env": list_of(
            shape(
                {
                    "name": STRING,
                    "value": STRING,
                    "valueFrom": shape(
                        {"secretKeyRef": _NAME_REFERENCE, "configMapKeyRef": _NAME_REFERENCE}
                    ),
                },
                required=("name",),
            )
        ),
        "envFrom": list_of(
            shape({"secretRef": _NAME_REFERENCE, "configMapRef": _NAME_REFERENCE, "prefix": STRING})
        ),
        "ports": list_of(
            shape(
                {
                    "containerPort": INTEGER,
                    "hostPort": INTEGER,
                    "hostIP": STRING,
                    "protocol": STRING,
                    "name": STRING,
                }
            )
        ),
        "securityContext": SECURITY_CONTEXT,
        "lifecycle": shape({"postStart": _HANDLER, "preStop": _HANDLER}),
        "livenessProbe": _HANDLER,
        "readinessProbe": _HANDLER,
        "startupProbe": _HANDLER,
        "resources": shape({"limits": map_of(INT_OR_STRING), "requests": map_of(INT_OR_STRING)}),
        "volumeMounts": list_of(shape({"name": STRING, "mountPath": STRING})),
    },
    required=("name",),
)
_CONTAINERS = list_of(CONTAINER)
POD_SPEC = shape(
    {
        "containers": _CONTAINERS,
        "initContainers": _CONTAINERS,
        "ephemeralContainers": _CONTAINERS,
        "volumes": list_of(
            shape(
                {"name": STRING, "hostPath": shape({"path": STRING, "type": STRING})},
                required=("name",),
            )
        ),
        "securityContext": SECURITY_CONTEXT,
        "hostNetwork": BOOLEAN,
        "hostPID": BOOLEAN,
        "hostIPC": BOOLEAN,
        "hostUsers": BOOLEAN,
        "shareProcessNamespace": BOOLEAN,
        "serviceAccountName": STRING,
        "serviceAccount": STRING,
        "automountServiceAccountToken": BOOLEAN,
        "runtimeClassName": STRING,
        "nodeName": STRING,
        "nodeSelector": STRING_MAP,
        "os": shape({"name": STRING}),
    },
)
POD_TEMPLATE = shape({"metadata": TEMPLATE_METADATA, "spec": POD_SPEC}, required=("spec",))
_CONTAINER_STATUSES = list_of(
    shape(
        {
            "name": STRING,
            "image": STRING,
            "imageID": STRING,
            "ready": BOOLEAN,
            "restartCount": INTEGER,
        }
    )
)
_LOAD_BALANCER = shape(
    {"loadBalancer": shape({"ingress": list_of(shape({"ip": STRING, "hostname": STRING}))})}
)
_CONTROLLER_SPEC = shape(
    {"template": POD_TEMPLATE, "selector": LABEL_SELECTOR, "replicas": INTEGER},
    required=("template",),
)
_REPLICA_STATUS = shape({"replicas": INTEGER, "readyReplicas": INTEGER})
_POLICY_PEER = shape(
    {
        "podSelector": LABEL_SELECTOR,
        "namespaceSelector": LABEL_SELECTOR,
        "ipBlock": shape({"cidr": STRING, "except": STRINGS}),
    }
)
_POLICY_PORTS = list_of(shape({"port": INT_OR_STRING, "protocol": STRING, "endPort": INTEGER}))
_INGRESS_BACKEND = shape(
    {
        "service": shape({"name": STRING, "port": shape({"number": INTEGER, "name": STRING})}),
        "serviceName": STRING,
        "servicePort": INT_OR_STRING,
    }
)
_POLICY_RULE = shape(
    {
        "verbs": STRINGS,
        "apiGroups": STRINGS,
        "resources": STRINGS,
        "resourceNames": STRINGS,
        "nonResourceURLs": STRINGS,
    }
)
_ROLE = {
    "rules": list_of(_POLICY_RULE),
    "aggregationRule": shape({"clusterRoleSelectors": list_of(LABEL_SELECTOR)}),
}
_BINDING = {
    "roleRef": shape(
        {"kind": STRING, "name": STRING, "apiGroup": STRING}, required=("kind", "name")
    ),
    "subjects": list_of(
        shape(
            {"kind": STRING, "name": STRING, "namespace": STRING, "apiGroup": STRING},
            required=("kind", "name"),
        )
    ),
}
_WEBHOOKS = {
    "webhooks": list_of(
        shape(
            {
                "name": STRING,
                "failurePolicy": STRING,
                "rules": list_of(
                    shape(
                        {
                            "operations": STRINGS,
                            "resources": STRINGS,
                            "apiGroups": STRINGS,
                            "apiVersions": STRINGS,
                            "scope": STRING,
                        }
                    )
                ),
                "namespaceSelector": LABEL_SELECTOR,
                "objectSelector": LABEL_SELECTOR,
            },
            required=("name",),
        )
    )
}

# The body of each kind beyond its metadata: top-level fields, as checks read them.
_BODIES: dict[str, dict[str, Checker]] = {
    "namespaces": {},
    "nodes": {
        "status": shape(
            {
                "nodeInfo": shape(
                    {
                        "kubeletVersion": STRING,
                        "kubeProxyVersion": STRING,
                        "osImage": STRING,
                        "kernelVersion": STRING,
                        "containerRuntimeVersion": STRING,
                        "operatingSystem": STRING,
                        "architecture": STRING,
                    }
                ),
                "conditions": list_of(shape({"type": STRING, "status": STRING})),
                "addresses": list_of(shape({"type": STRING, "address": STRING})),
            }
        )
    },
    "pods": {
        "spec": POD_SPEC,
        "status": shape(
            {
                "phase": STRING,
                "hostIP": STRING,
                "podIP": STRING,
                "containerStatuses": _CONTAINER_STATUSES,
                "initContainerStatuses": _CONTAINER_STATUSES,
            },
            # trim() copies each entry of these lists without a fallback for null.
            not_null=("containerStatuses", "initContainerStatuses"),
        ),
    },
    "services": {
        "spec": shape(
            {
                "type": STRING,
                "ports": list_of(
                    shape(
                        {
                            "port": INTEGER,
                            "targetPort": INT_OR_STRING,
                            "nodePort": INTEGER,
                            "protocol": STRING,
                            "name": STRING,
                        }
                    )
                ),
                "selector": STRING_MAP,
                "externalIPs": STRINGS,
                "loadBalancerSourceRanges": STRINGS,
                "clusterIP": STRING,
            }
        ),
        "status": _LOAD_BALANCER,
    },
    "serviceaccounts": {"automountServiceAccountToken": BOOLEAN},
    "deployments": {"spec": _CONTROLLER_SPEC, "status": _REPLICA_STATUS},
    "statefulsets": {"spec": _CONTROLLER_SPEC, "status": _REPLICA_STATUS},
    "daemonsets": {
        "spec": _CONTROLLER_SPEC,
        "status": shape({"desiredNumberScheduled": INTEGER, "numberReady": INTEGER}),
    },
    "replicasets": {"spec": _CONTROLLER_SPEC, "status": shape({"replicas": INTEGER})},
    "jobs": {"spec": _CONTROLLER_SPEC, "status": shape({"active": INTEGER})},
    "cronjobs": {
        "spec": shape(
            {
                "jobTemplate": shape(
                    {"metadata": TEMPLATE_METADATA, "spec": _CONTROLLER_SPEC},
                    required=("spec",),
                ),
                "schedule": STRING,
                "suspend": BOOLEAN,
            },
            required=("jobTemplate",),
        )
    },
    "networkpolicies": {
        "spec": shape(
            {
                "podSelector": LABEL_SELECTOR,
                "policyTypes": STRINGS,
                "ingress": list_of(shape({"from": list_of(_POLICY_PEER), "ports": _POLICY_PORTS})),
                "egress": list_of(shape({"to": list_of(_POLICY_PEER), "ports": _POLICY_PORTS})),
            }
        )
    },
    "ingresses": {
        "spec": shape(
            {
                "tls": list_of(shape({"hosts": STRINGS, "secretName": STRING})),
                "rules": list_of(
                    shape(
                        {
                            "host": STRING,
                            "http": shape(
                                {
                                    "paths": list_of(
                                        shape(
                                            {
                                                "path": STRING,
                                                "pathType": STRING,
                                                "backend": _INGRESS_BACKEND,
                                            }
                                        )
                                    )
                                }
                            ),
                        }
                    )
                ),
                "defaultBackend": _INGRESS_BACKEND,
                "ingressClassName": STRING,
            }
        ),
        "status": _LOAD_BALANCER,
    },
    "roles": _ROLE,
    "rolebindings": _BINDING,
    "clusterrolebindings": _BINDING,
    "clusterroles": _ROLE,
    "validatingwebhookconfigurations": _WEBHOOKS,
    "mutatingwebhookconfigurations": _WEBHOOKS,
    "validatingadmissionpolicies": {"spec": shape({"failurePolicy": STRING})},
    "validatingadmissionpolicybindings": {
        "spec": shape({"policyName": STRING, "validationActions": STRINGS})
    },
    "runtimeclasses": {"handler": STRING, "scheduling": shape({"nodeSelector": STRING_MAP})},
    "customresourcedefinitions": {
        "spec": shape(
            {"group": STRING, "names": shape({"kind": STRING, "plural": STRING})},
            required=("group",),
        )
    },
    "vulnerabilityreports": {
        "report": shape(
            {
                "summary": shape(
                    {
                        "criticalCount": INTEGER,
                        "highCount": INTEGER,
                        "mediumCount": INTEGER,
                        "lowCount": INTEGER,
                    }
                ),
                "artifact": shape({"repository": STRING, "tag": STRING, "digest": STRING}),
                "registry": shape({"server": STRING}),
            }
        )
    },
}
# Kinds whose bodies `kubectl get` always prints (an object without one is not of that kind).
_REQUIRED_BODY = {
    "pods": ("spec",),
    "deployments": ("spec",),
    "statefulsets": ("spec",),
    "daemonsets": ("spec",),
    "replicasets": ("spec",),
    "jobs": ("spec",),
    "cronjobs": ("spec",),
    "rolebindings": ("roleRef",),
    "clusterrolebindings": ("roleRef",),
    "customresourcedefinitions": ("spec",),
}


def _object_checker(key: str) -> Checker:
    metadata_required = ("name", "namespace") if BY_KEY[key].namespaced else ("name",)
    fields = {
        "metadata": shape(_METADATA_FIELDS, required=metadata_required),
        **_BODIES.get(key, {}),
    }
    return shape(fields, required=("metadata", *_REQUIRED_BODY.get(key, ())))


_CHECKERS: dict[str, Checker] = {key: _object_checker(key) for key in BY_KEY}


def object_problem(key: str, obj: Any) -> str | None:
    """Why `obj` cannot be judged as a `key` object (one line naming it), or None when it can."""
    problem = _CHECKERS[key](obj)
    if problem is None:
        return None
    path, expected = problem
    return f"{_identify(key, obj)}: {path or 'the item'} must be {expected}"


def _identify(key: str, obj: Any) -> str:
    kind = BY_KEY[key].kind
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        return f"a {kind}"
    shown = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
    return f"{kind} {shown[:120]!r}"


def split_valid(key: str, items: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects that fit, and one line per object that does not (in order)."""
    checker = _CHECKERS[key]
    valid: list[dict[str, Any]] = []
    problems: list[str] = []
    for item in items:
        if checker(item) is None:
            valid.append(item)
        else:
            problems.append(object_problem(key, item) or "")
    return valid, problems


def partial_reason(key: str, problems: list[str], *, total: int) -> str:
    """One line for `Inventory.mark_partial`: how many were dropped, and the first reason."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f"{len(problems)} of {total} {key} could not be judged and were left out: "
        f"{problems[0]}{more}"
    )
