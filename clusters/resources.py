"""The Kubernetes resources Rampart collects, named once for every source.

The key is the lowercase plural resource name, which is also the evidence-bundle file name
(`pods.json`). A custom resource's key is `<plural>.<group>` (`ciliumnetworkpolicies.cilium.io`),
as `kubectl get <plural>.<group> -A -o json` names it, so Calico's `NetworkPolicy` never collides
with Kubernetes' own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    key: str
    group: str  # "" for the core API group
    version: str
    plural: str
    kind: str
    namespaced: bool
    # Optional resources are add-ons (CRDs) whose absence is normal: "not served", not an error.
    optional: bool = False
    # Served by a CustomResourceDefinition: a bundle whose CRD list lacks it shows it is absent.
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def list_path(self) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{prefix}/{self.plural}"


def _custom(group: str, version: str, plural: str, kind: str, *, namespaced: bool) -> Resource:
    """An optional custom resource, keyed `<plural>.<group>` like its bundle file."""
    return Resource(
        f"{plural}.{group}", group, version, plural, kind, namespaced, optional=True, custom=True
    )


RESOURCES: tuple[Resource, ...] = (
    Resource("namespaces", "", "v1", "namespaces", "Namespace", False),
    Resource("nodes", "", "v1", "nodes", "Node", False),
    Resource("pods", "", "v1", "pods", "Pod", True),
    Resource("services", "", "v1", "services", "Service", True),
    Resource("serviceaccounts", "", "v1", "serviceaccounts", "ServiceAccount", True),
    Resource("deployments", "apps", "v1", "deployments", "Deployment", True),
    Resource("statefulsets", "apps", "v1", "statefulsets", "StatefulSet", True),
    Resource("daemonsets", "apps", "v1", "daemonsets", "DaemonSet", True),
    Resource("replicasets", "apps", "v1", "replicasets", "ReplicaSet", True),
    Resource("jobs", "batch", "v1", "jobs", "Job", True),
    Resource("cronjobs", "batch", "v1", "cronjobs", "CronJob", True),
    Resource(
        "networkpolicies", "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True
    ),
    Resource("ingresses", "networking.k8s.io", "v1", "ingresses", "Ingress", True),
    Resource("roles", "rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource(
        "clusterroles", "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False
    ),
    Resource(
        "rolebindings", "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True
    ),
    Resource(
        "clusterrolebindings",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        False,
    ),
    Resource(
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    Resource(
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    Resource(
        "validatingadmissionpolicies",
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
        optional=True,
    ),
    Resource(
        "validatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
        optional=True,
    ),
    Resource("runtimeclasses", "node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    Resource(
        "customresourcedefinitions",
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
    ),
    Resource(
        "vulnerabilityreports",
        "aquasecurity.github.io",
        "v1alpha1",
        "vulnerabilityreports",
        "VulnerabilityReport",
        True,
        optional=True,
        custom=True,
    ),
    # Policy engines beside (or instead of) Kubernetes NetworkPolicy. Calico is read from the
    # crd.projectcalico.org/v1 CRDs that store it, and from projectcalico.org/v3 only where that
    # is itself a CRD (posture/checks/netpol_calico.py says why).
    _custom("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy", namespaced=True),
    _custom(
        "cilium.io",
        "v2",
        "ciliumclusterwidenetworkpolicies",
        "CiliumClusterwideNetworkPolicy",
        namespaced=False,
    ),
    _custom("crd.projectcalico.org", "v1", "networkpolicies", "NetworkPolicy", namespaced=True),
    _custom(
        "crd.projectcalico.org",
        "v1",
        "globalnetworkpolicies",
        "GlobalNetworkPolicy",
        namespaced=False,
    ),
    _custom("projectcalico.org", "v3", "networkpolicies", "NetworkPolicy", namespaced=True),
    _custom(
        "projectcalico.org", "v3", "globalnetworkpolicies", "GlobalNetworkPolicy", namespaced=False
    ),
)

BY_KEY: dict[str, Resource] = {resource.key: resource for resource in RESOURCES}
# A kind names one resource within its API group; `NetworkPolicy` alone is ambiguous.
BY_GROUP_KIND: dict[tuple[str, str], Resource] = {(r.group, r.kind): r for r in RESOURCES}
# By kind alone, for objects that carry no apiVersion: the first (built-in) resource wins, which
# reversing the tuple gives (later duplicates are written first and overwritten).
BY_KIND: dict[str, Resource] = {r.kind: r for r in reversed(RESOURCES)}


@dataclass(frozen=True)
class ExtraInput:
    """Evidence beside the Kubernetes API that checks may need: a provider's cluster resource,
    node-level benchmark results. Its key lives in Inventory.kind_status like a resource's (so
    the check runner, unknown causes and run records treat it alike), but it is not listed from
    the API; a source sets its status. Absent is normal: it never makes a run partial, and the
    checks needing it are unknown (their checklist items stay manual)."""

    key: str
    description: str
    # How its absence reads in an unknown cause line, when "not collected: <key>" would not
    # say what a person must do ("needs node-level evidence ...").
    absent: str = ""


# Filled by the modules that read each input (a provider link, kube-bench import), by key.
EXTRA_INPUTS: dict[str, ExtraInput] = {}


def extra_input(key: str, description: str, *, absent: str = "") -> ExtraInput:
    """Declare an extra input once, where it is read; returns it for the declaring module."""
    found = EXTRA_INPUTS.setdefault(key, ExtraInput(key, description, absent))
    if found.description != description or found.absent != absent:
        raise ValueError(f"extra input {key!r} declared twice")
    return found
