"""What a synthetic cluster's Deployments look like: replicas and the pod template (bench/synth.py).

    default    10 replicas per Deployment; templates mostly hardened, a deterministic few
               privileged / hostNetwork / hostPath / `:latest` (about 0.3 open findings a pod)
    findings   1-2 replicas per Deployment and templates that fail several checks each, as a
               cluster nobody has hardened yet: containers without a securityContext (privilege
               escalation, root, NET_RAW, capabilities, seccomp), images without a digest, some
               `:latest`, privileged, added capabilities, hostPath, hostNetwork, hostPort,
               secrets in the environment (about 10 open findings a pod); pods as the API
               server stores them: token volume, tolerations, full statuses, managedFields

A template is built once per Deployment and shared by its ReplicaSet and pods; it must not
use the generator's random numbers, so the default shape's output is the same as before shapes
existed (and its benchmarks stay comparable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
PROXY_IMAGE = "registry.example.com/platform/envoy:1.31.2@sha256:" + "ab" * 32
RESTRICTED: JSON = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
}


@dataclass(frozen=True)
class Shape:
    name: str
    replicas: Callable[[int], int]  # Deployment index -> replicas
    deployments_per_namespace: int
    # (Deployment index, app name) -> (pod labels, pod spec)
    template: Callable[[int, str], tuple[JSON, JSON]]
    # Pods as the API server stores them (bench/podfields.py), not copies of their template.
    admitted_pods: bool = False


def _common_container(name: str, image: str, pull: str, memory: str) -> JSON:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": pull,
        "resources": {
            "requests": {"cpu": "50m", "memory": memory},
            "limits": {"memory": memory},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def _pod_spec(containers: list[JSON], volumes: list[JSON], context: JSON) -> JSON:
    return {
        "containers": containers,
        "volumes": volumes,
        "serviceAccountName": "default",
        "securityContext": context,
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    }


def _default_template(index: int, app: str) -> tuple[JSON, JSON]:
    latest = index % 23 == 5
    tag = "latest" if latest else f"1.{index % 40}.{index % 7}"
    app_context = {"privileged": True} if index % 17 == 3 else RESTRICTED
    mounts = [{"name": "config", "mountPath": "/etc/app", "readOnly": True}]
    volumes: list[JSON] = [{"name": "config", "configMap": {"name": f"{app}-config"}}]
    if index % 31 == 7:
        volumes.append({"name": "host", "hostPath": {"path": "/var/lib", "type": "Directory"}})
        mounts.append({"name": "host", "mountPath": "/host"})
    main = {
        "name": "app",
        "image": f"registry.example.com/apps/{app}:{tag}",
        "imagePullPolicy": "Always" if latest else "IfNotPresent",
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "env": [{"name": f"SETTING_{n}", "value": f"value-{n}-{app}"} for n in range(8)],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": app_context,
        "volumeMounts": mounts,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    proxy = {
        "name": "proxy",
        "image": PROXY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "128Mi"},
        },
        "securityContext": RESTRICTED,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    context = {"runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    spec = _pod_spec([main, proxy], volumes, context)
    if index % 29 == 11:
        spec["hostNetwork"] = True
    return {"app": app, "tier": "backend"}, spec


def _findings_template(index: int, app: str) -> tuple[JSON, JSON]:
    hardened = index % 4 == 3  # a quarter of the teams did the work: pod-level defaults set
    latest = index % 3 == 0
    tag = "latest" if latest else f"2.{index % 30}.{index % 9}"
    main = _common_container(
        "app", f"registry.example.com/apps/{app}:{tag}", "IfNotPresent", "256Mi"
    )
    main["ports"] = [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    if index % 23 == 9:
        main["ports"][0]["hostPort"] = 8080
    env: list[JSON] = [{"name": f"SETTING_{n}", "value": f"value-{n}-{app}"} for n in range(8)]
    if index % 3 == 1:
        secret = {"secretKeyRef": {"name": f"{app}-db", "key": "password"}}
        env.append({"name": "DATABASE_PASSWORD", "valueFrom": secret})
    main["env"] = env
    main["volumeMounts"] = [{"name": "config", "mountPath": "/etc/app", "readOnly": True}]
    if index % 11 == 2:
        main["securityContext"] = {"privileged": True}
    elif index % 7 == 4:
        main["securityContext"] = {"capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}}
    elif hardened:
        main["securityContext"] = RESTRICTED
    # else: no securityContext at all, the most common finding there is
    shipper = _common_container(
        "log-shipper", "docker.io/fluent/fluent-bit:3.1.9", "IfNotPresent", "64Mi"
    )
    shipper["args"] = ["--config", "/fluent-bit/etc/fluent-bit.conf"]
    if index % 6 == 5:
        shipper["securityContext"] = {"runAsUser": 0}
    volumes: list[JSON] = [{"name": "config", "configMap": {"name": f"{app}-config"}}]
    if index % 8 == 1:
        volumes.append({"name": "varlog", "hostPath": {"path": "/var/log", "type": "Directory"}})
        shipper["volumeMounts"] = [{"name": "varlog", "mountPath": "/var/log", "readOnly": True}]
    proxy = _common_container("proxy", PROXY_IMAGE, "IfNotPresent", "128Mi")
    proxy["args"] = ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"]
    proxy["securityContext"] = RESTRICTED
    context: JSON = (
        {"runAsUser": 10001, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        if hardened
        else {}
    )
    spec = _pod_spec([main, shipper, proxy], volumes, context)
    if index % 19 == 7:
        spec["hostNetwork"] = True
    return {"app": app, "tier": "backend", "team": f"team-{index % 97:02d}"}, spec


SHAPES: dict[str, Shape] = {
    "default": Shape("default", lambda index: 10, 5, _default_template),
    "findings": Shape(
        "findings", lambda index: 1 + index % 2, 33, _findings_template, admitted_pods=True
    ),
}
