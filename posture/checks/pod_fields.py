"""Reading workloads' pod templates for the isolation checks, and their shared references.

Details name the container and the field (`container "app": securityContext.privileged=true`)
so a finding says exactly what to change; findings name the owning workload, never a Pod.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from clusters.inventory import JSON, Inventory
from posture.checks.base import Affected, Reference
from posture.checks.guides import CIS, CIS_GKE, NSA
from posture.workloads import Workload, workloads


def cis(control: str, title: str, version: str | None = None) -> Reference:
    """CIS Kubernetes at the catalog's edition, or at `version` for ids that edition lacks."""
    if version is None:
        return CIS(control, title=title)
    return Reference("cis-kubernetes", control, version=version, title=title)


def cis_gke(control: str, title: str) -> Reference:
    return CIS_GKE(control, title=title)


def pss(control: str, title: str) -> Reference:
    """A Pod Security Standards control, by its upstream pod-security-admission check id."""
    return Reference("pss", control, title=title)


NSA_POD_SECURITY = NSA("Pod security", title="Pod security")

_LIST_LABEL = {
    "containers": "container",
    "initContainers": "init container",
    "ephemeralContainers": "ephemeral container",
}


def container_label(list_name: str, container: JSON) -> str:
    return f'{_LIST_LABEL.get(list_name, "container")} "{container.get("name", "")}"'


def security_context(item: JSON) -> JSON:
    return item.get("securityContext") or {}


def effective(workload: Workload, container: JSON, field: str) -> object:
    """A container's securityContext field, falling back to the pod's, as the kubelet does."""
    value = security_context(container).get(field)
    return security_context(workload.pod_spec).get(field) if value is None else value


def is_windows(workload: Workload) -> bool:
    # Linux-only fields (capabilities, allowPrivilegeEscalation, seccomp) are rejected by API
    # validation on Windows pods, so asking for them would be a finding nobody can fix.
    return (workload.pod_spec.get("os") or {}).get("name") == "windows"


def affected(workload: Workload, detail: str) -> Affected:
    return Affected(workload.kind, workload.namespace, workload.name, detail)


ContainerRule = Callable[[Workload, JSON], str | None]


def per_container(
    inventory: Inventory, rule: ContainerRule, *, linux_only: bool = False
) -> Iterator[Affected]:
    """One Affected per container `rule` flags; the rule returns the field part of the detail."""
    for workload in workloads(inventory):
        if linux_only and is_windows(workload):
            continue
        for list_name, container in workload.containers():
            finding = rule(workload, container)
            if finding:
                yield affected(workload, f"{container_label(list_name, container)}: {finding}")


def capabilities(container: JSON, field: str) -> set[str]:
    """The container's capabilities.add or .drop, upper-cased and without a CAP_ prefix.

    Container runtimes (containerd, CRI-O) normalise names this way, so `drop: [all]` does drop
    everything. Pod Security compares names exactly instead; posture.pss keeps that.
    """
    names = (security_context(container).get("capabilities") or {}).get(field) or []
    return {str(name).upper().removeprefix("CAP_") for name in names}
