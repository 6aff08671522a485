"""Workload isolation: what each workload's pod template lets a container do to its node.

Every check walks `workloads(inventory)`, so a finding names the owning Deployment, StatefulSet,
DaemonSet, CronJob (or bare Pod), never a ReplicaSet hash or a Pod that a rollout replaces, and
a workload scaled to zero is still judged. System namespaces are judged too: a privileged
kube-proxy is a real exposure even when it is an accepted one, and a waiver is how to say so.
This module holds the checks for direct access to the node; container hardening lives in
posture/checks/container_hardening.py and the namespace-level checks (Pod Security Standards,
PSA labels, sandboxes) in posture/checks/pod_security.py.
"""

from __future__ import annotations

from clusters.inventory import JSON, Inventory
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.pod_fields import (
    NSA_POD_SECURITY,
    affected,
    cis,
    per_container,
    pss,
    security_context,
)
from posture.workloads import WORKLOAD_NEEDS, Workload, workloads

HOST_NAMESPACE_FIELDS = ("hostPID", "hostIPC", "hostNetwork")
# A container runtime's socket gives whoever mounts it every container on the node (KS C-0074).
RUNTIME_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
)


@check(
    id="isolation.privileged",
    title="Privileged containers",
    area=Area.ISOLATION,
    severity=Severity.HIGH,
    rationale=(
        "A privileged container has every capability and the host's devices: escaping to the "
        "node, and from there to every pod on it, is a matter of mounting its disk."
    ),
    remediation=(
        "Remove securityContext.privileged (or set it to false); grant the specific capability "
        "the workload needs instead. Enforce Pod Security baseline on the namespace."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.2", "Minimize the admission of privileged containers"),
        NSA_POD_SECURITY,
        pss("privileged", "Privileged Containers"),
    ),
)
def privileged_containers(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        if security_context(container).get("privileged") is True:
            return "securityContext.privileged=true"
        return None

    return Outcome.from_affected(
        per_container(inventory, rule),
        passed="No container runs privileged.",
        failed="{count} privileged containers.",
    )


@check(
    id="isolation.host_namespaces",
    title="Pods sharing the node's PID, IPC or network namespace",
    area=Area.ISOLATION,
    severity=Severity.HIGH,
    rationale=(
        "hostPID lets a container see and signal every process on the node, hostIPC read its "
        "shared memory, and hostNetwork bind node ports and reach services listening on "
        "localhost, including the kubelet's."
    ),
    remediation="Remove spec.hostPID, spec.hostIPC and spec.hostNetwork from the pod template.",
    evidence=WORKLOAD_NEEDS,
    references=(
        cis(
            "5.2.3", "Minimize the admission of containers wishing to share the host PID namespace"
        ),
        cis(
            "5.2.4", "Minimize the admission of containers wishing to share the host IPC namespace"
        ),
        cis(
            "5.2.5",
            "Minimize the admission of containers wishing to share the host network namespace",
        ),
        NSA_POD_SECURITY,
        pss("hostNamespaces", "Host Namespaces"),
    ),
)
def host_namespaces(inventory: Inventory, context: CheckContext) -> Outcome:
    by_field: dict[str, list[Affected]] = {field: [] for field in HOST_NAMESPACE_FIELDS}
    for workload in workloads(inventory):
        for field in HOST_NAMESPACE_FIELDS:
            if workload.pod_spec.get(field) is True:
                by_field[field].append(affected(workload, f"spec.{field}=true"))
    outcome = Outcome.from_affected(
        [item for items in by_field.values() for item in items],
        passed="No pod shares the node's namespaces.",
        failed="{count} host namespaces shared.",
    )
    # CIS 5.2.3, 5.2.4 and 5.2.5 each name one of them.
    outcome.controls = {
        field: Outcome.from_affected(
            items,
            passed=f"No pod sets spec.{field}.",
            failed=f"{{count}} workloads set spec.{field}=true.",
        )
        for field, items in by_field.items()
    }
    return outcome


def _runtime_socket(path: str) -> bool:
    """The path is a runtime socket or a directory that contains one (e.g. /var/run, /)."""
    normalized = "/" + path.strip("/") if path.strip("/") else "/"
    return any(
        socket == normalized or socket.startswith(normalized.rstrip("/") + "/")
        for socket in RUNTIME_SOCKETS
    )


@check(
    id="isolation.host_path",
    title="hostPath volumes",
    area=Area.ISOLATION,
    severity=Severity.HIGH,
    rationale=(
        "A hostPath volume exposes the node's filesystem to the container; a writable one, or "
        "one holding the container runtime's socket, is a direct path to the node."
    ),
    remediation=(
        "Replace hostPath volumes with emptyDir, ConfigMap/Secret or PersistentVolumeClaim "
        "volumes. Never mount the container runtime socket into a workload."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.11", "Minimize the admission of HostPath volumes"),
        NSA_POD_SECURITY,
        pss("hostPathVolumes", "HostPath Volumes"),
    ),
)
def host_path(inventory: Inventory, context: CheckContext) -> Outcome:
    found = []
    for workload in workloads(inventory):
        for volume in workload.pod_spec.get("volumes") or []:
            source = volume.get("hostPath")
            if source is None:
                continue
            path = str((source or {}).get("path", ""))
            detail = f'volume "{volume.get("name", "")}": hostPath "{path}"'
            if _runtime_socket(path):
                detail += " (exposes the container runtime socket)"
            found.append(affected(workload, detail))
    return Outcome.from_affected(
        found, passed="No hostPath volumes.", failed="{count} hostPath volumes."
    )


@check(
    id="isolation.windows_host_process",
    title="Windows HostProcess containers",
    area=Area.ISOLATION,
    severity=Severity.HIGH,
    rationale=(
        "A Windows HostProcess container runs directly on the node with the node's network and "
        "filesystem: it is the Windows equivalent of a privileged container."
    ),
    remediation="Remove securityContext.windowsOptions.hostProcess from the pod and containers.",
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.10", "Minimize the admission of Windows HostProcess containers"),
        NSA_POD_SECURITY,
        pss("windowsHostProcess", "HostProcess"),
    ),
)
def windows_host_process(inventory: Inventory, context: CheckContext) -> Outcome:
    def host_process(item: JSON) -> bool:
        return (security_context(item).get("windowsOptions") or {}).get("hostProcess") is True

    found = [
        affected(workload, "spec.securityContext.windowsOptions.hostProcess=true")
        for workload in workloads(inventory)
        if host_process(workload.pod_spec)
    ]
    found += per_container(
        inventory,
        lambda w, c: "securityContext.windowsOptions.hostProcess=true" if host_process(c) else None,
    )
    return Outcome.from_affected(
        found,
        passed="No Windows HostProcess containers.",
        failed="{count} HostProcess settings.",
    )


@check(
    id="isolation.host_ports",
    title="Containers binding host ports",
    area=Area.ISOLATION,
    severity=Severity.MEDIUM,
    rationale=(
        "A hostPort publishes the container on the node's own address, bypassing Services "
        "and most NetworkPolicy implementations, and limits where the pod can schedule."
    ),
    remediation="Remove ports[].hostPort and expose the workload through a Service.",
    evidence=WORKLOAD_NEEDS,
    references=(
        cis("5.2.12", "Minimize the admission of containers which use HostPorts"),
        NSA_POD_SECURITY,
        pss("hostPorts", "Host Ports"),
    ),
)
def host_ports(inventory: Inventory, context: CheckContext) -> Outcome:
    def rule(workload: Workload, container: JSON) -> str | None:
        ports = [str(p["hostPort"]) for p in container.get("ports") or [] if p.get("hostPort")]
        return f"ports[].hostPort={', '.join(ports)}" if ports else None

    return Outcome.from_affected(
        per_container(inventory, rule),
        passed="No host ports.",
        failed="{count} containers bind host ports.",
    )
