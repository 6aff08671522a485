"""Pod templates and pods as the API server stores them, on top of `ClusterBuilder`.

Pods get what admission and the kubelet add: the service-account token volume, default
tolerations, a status with containerStatuses (image, imageID digest, containerID), and for
DaemonSet pods the node affinity the controller sets.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from kube_objects import JSON, ClusterBuilder, digest, image_ref, pull_policy, suffix

_PRIORITY = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIC...demo...\n").decode()


def _qos(containers: list[JSON]) -> str:
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(k)
        and (r.get("requests") or {}).get(k, r["limits"][k]) == r["limits"][k]
        for r in resources
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


class PodBuilder(ClusterBuilder):
    # -- pod templates and pods ------------------------------------------------------------
    @staticmethod
    def container(spec: JSON) -> JSON:
        container = {
            "imagePullPolicy": pull_policy(spec["image"]),
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            **spec,
        }
        if "ports" in container:
            container["ports"] = [{"protocol": "TCP", **port} for port in container["ports"]]
        return container

    def template(
        self,
        labels: JSON,
        containers: list[JSON],
        *,
        annotations: JSON | None = None,
        init: list[JSON] | None = None,
        **pod: Any,
    ) -> JSON:
        spec: JSON = {
            "containers": [self.container(c) for c in containers],
            "dnsPolicy": "ClusterFirstWithHostNet" if pod.get("hostNetwork") else "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
            **pod,
        }
        if init:
            spec["initContainers"] = [self.container(c) for c in init]
        if "serviceAccountName" in spec:
            spec["serviceAccount"] = spec["serviceAccountName"]
        metadata: JSON = {"creationTimestamp": None, "labels": labels}
        if annotations:
            metadata["annotations"] = annotations
        return {"metadata": metadata, "spec": spec}

    def pod(
        self,
        namespace: str,
        name: str,
        template: JSON,
        *,
        node: str,
        owner: JSON | None = None,
        created: str | None = None,
        labels: JSON | None = None,
        annotations: JSON | None = None,
        phase: str = "Running",
        daemon: bool = False,
    ) -> JSON:
        created = created or self.stamp("pod", namespace, name, days=(20, 1))
        spec = copy.deepcopy(template["spec"])
        spec.setdefault("serviceAccountName", "default")
        spec["serviceAccount"] = spec["serviceAccountName"]
        spec["nodeName"] = node
        spec.setdefault("enableServiceLinks", True)
        spec["preemptionPolicy"] = "PreemptLowerPriority"
        spec["priority"] = _PRIORITY.get(spec.get("priorityClassName", ""), 0)
        if daemon:
            spec["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {"key": "metadata.name", "operator": "In", "values": [node]}
                                ]
                            }
                        ]
                    }
                }
            }
            spec["tolerations"] = spec.get("tolerations", []) + self.daemon_tolerations
        else:
            spec["tolerations"] = spec.get("tolerations", []) + self.tolerations
        if spec.get("automountServiceAccountToken", True):
            volume = f"kube-api-access-{suffix(5, 'token', namespace, name)}"
            spec.setdefault("volumes", []).append(_token_volume(volume))
            mount = {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": volume,
                "readOnly": True,
            }
            for list_name in ("initContainers", "containers"):
                for container in spec.get(list_name, []):
                    container.setdefault("volumeMounts", []).append(dict(mount))
        host_ip = self.node_ip(node)
        pod_ip = host_ip if spec.get("hostNetwork") else self.pod_ip(node)
        metadata = self.meta(
            "pods",
            name,
            namespace,
            labels={**(template["metadata"].get("labels") or {}), **(labels or {})},
            annotations={**(template["metadata"].get("annotations") or {}), **(annotations or {})},
            owner=owner,
            created=created,
            generate_name=name.rsplit("-", 1)[0] + "-" if owner else None,
        )
        obj = self.add(
            "pods",
            {
                "metadata": metadata,
                "spec": spec,
                "status": self._pod_status(spec, created, host_ip, pod_ip, phase, name),
            },
        )
        if len(self.objects["pods"]) % 3 == 0:  # some pods show the kubelet's status writes
            self.manage(obj, "kubelet", fields={"status": {"conditions": {}}}, subresource="status")
        return obj

    def _pod_status(
        self, spec: JSON, created: str, host_ip: str, pod_ip: str, phase: str, name: str
    ) -> JSON:
        done = phase == "Succeeded"
        started = self.later(created, 2)
        statuses = []
        for index, container in enumerate(spec["containers"]):
            shown, repository = image_ref(container["image"])
            pinned = container["image"].partition("@")[2]
            image_id = f"{repository}@{pinned or 'sha256:' + digest('image', shown)}"
            container_id = "containerd://" + digest("container", self.name, name, index)
            begun = self.later(created, 4 + index)
            state = (
                {
                    "terminated": {
                        "containerID": container_id,
                        "exitCode": 0,
                        "finishedAt": self.later(created, 95),
                        "reason": "Completed",
                        "startedAt": begun,
                    }
                }
                if done
                else {"running": {"startedAt": begun}}
            )
            statuses.append(
                {
                    "containerID": container_id,
                    "image": shown,
                    "imageID": image_id,
                    "lastState": {},
                    "name": container["name"],
                    "ready": not done,
                    "restartCount": 0,
                    "started": not done,
                    "state": state,
                }
            )
        ready = "False" if done else "True"
        conditions = [
            ("PodReadyToStartContainers", "False" if done else "True", started),
            ("Initialized", "True", started),
            ("Ready", ready, self.later(created, 8)),
            ("ContainersReady", ready, self.later(created, 8)),
            ("PodScheduled", "True", created),
        ]
        status: JSON = {
            "conditions": [
                {"lastProbeTime": None, "lastTransitionTime": when, "status": value, "type": kind}
                | (
                    {"reason": "PodCompleted"}
                    if done and kind in ("Ready", "ContainersReady")
                    else {}
                )
                for kind, value, when in conditions
            ],
            "containerStatuses": statuses,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "phase": phase,
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "qosClass": _qos(spec["containers"]),
            "startTime": started,
        }
        return status

    def _spread(self, key: str, count: int, *, everywhere: bool = False) -> list[str]:
        nodes = [
            n["metadata"]["name"] for n in self.nodes if everywhere or not n["spec"].get("taints")
        ]
        start = int(digest(self.name, key)[:4], 16)
        return [nodes[(start + i) % len(nodes)] for i in range(count)]

    def static_pod(self, namespace: str, component: str, node: str, template: JSON) -> JSON:
        """A kubelet mirror pod (kubeadm control plane), owned by its Node."""
        node_obj = next(n for n in self.nodes if n["metadata"]["name"] == node)
        config_hash = digest("static", self.name, component)[:32]
        template = copy.deepcopy(template)
        template["spec"]["automountServiceAccountToken"] = False
        pod = self.pod(
            namespace,
            f"{component}-{node}",
            template,
            node=node,
            owner=node_obj,
            created=self.stamp("static", component, days=(40, 30)),
            annotations={
                "kubernetes.io/config.hash": config_hash,
                "kubernetes.io/config.mirror": config_hash,
                "kubernetes.io/config.seen": self.stamp("seen", component, days=(40, 30)),
                "kubernetes.io/config.source": "file",
            },
        )
        pod["metadata"]["ownerReferences"][0].pop("blockOwnerDeletion")
        pod["metadata"].pop("generateName", None)
        pod["spec"]["tolerations"] = [{"effect": "NoExecute", "operator": "Exists"}]
        return pod


def _token_volume(name: str) -> JSON:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        "name": "kube-root-ca.crt",
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                "path": "namespace",
                            }
                        ]
                    }
                },
            ],
        },
    }


# -- small vocabulary for writing pod specs in the demo cluster definitions ----------------------
RESTRICTED: JSON = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_RESTRICTED: JSON = {
    "fsGroup": 10001,
    "runAsGroup": 10001,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pinned(repository: str, tag: str) -> str:
    """`repo:tag@sha256:<digest>`, the way a hardened pipeline writes image references."""
    return f"{repository}:{tag}@sha256:{digest('pin', repository, tag)}"


def resources(cpu: str, memory: str, limit_memory: str | None = None) -> JSON:
    return {
        "limits": {"memory": limit_memory or memory},
        "requests": {"cpu": cpu, "memory": memory},
    }


def host_path(name: str, path: str, kind: str = "") -> JSON:
    source: JSON = {"path": path}
    if kind:
        source["type"] = kind
    return {"hostPath": source, "name": name}


def env(**values: str) -> list[JSON]:
    return [{"name": key, "value": value} for key, value in values.items()]


def http_probe(port: int | str, path: str = "/healthz", scheme: str = "HTTP") -> JSON:
    return {
        "failureThreshold": 3,
        "httpGet": {"path": path, "port": port, "scheme": scheme},
        "periodSeconds": 10,
        "successThreshold": 1,
        "timeoutSeconds": 1,
    }
