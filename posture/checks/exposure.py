"""How Services and Ingresses expose workloads outside the cluster.

A LoadBalancer Service is external unless its provider annotation makes the load balancer
internal (reachable from the VPC only); a NodePort Service listens on every node. An Ingress is
external through its controller, and reaches whatever Services its backends name.
"""

from __future__ import annotations

from clusters.inventory import JSON
from posture.checks.selectors import service_selects
from posture.workloads import Workload

# Annotations (name, value) that make a cloud load balancer internal. Values are compared
# case-insensitively because providers document "Internal" and "true" in varying case.
_INTERNAL_LB_ANNOTATIONS = (
    ("networking.gke.io/load-balancer-type", "internal"),
    ("cloud.google.com/load-balancer-type", "internal"),
    ("service.beta.kubernetes.io/aws-load-balancer-internal", "true"),
    ("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal"),
    ("service.beta.kubernetes.io/azure-load-balancer-internal", "true"),
)
_OPEN_RANGES = frozenset({"0.0.0.0/0", "::/0"})


def _meta(obj: JSON) -> JSON:
    return obj.get("metadata") or {}


def service_type(service: JSON) -> str:
    return (service.get("spec") or {}).get("type") or "ClusterIP"


def is_internal_load_balancer(service: JSON) -> bool:
    annotations = _meta(service).get("annotations") or {}
    return any(
        str(annotations.get(name, "")).lower() == value for name, value in _INTERNAL_LB_ANNOTATIONS
    )


def is_external(service: JSON) -> bool:
    """LoadBalancer (not internal) or NodePort: reachable from outside the cluster network."""
    kind = service_type(service)
    if kind == "LoadBalancer":
        return not is_internal_load_balancer(service)
    return kind == "NodePort"


def describe_ports(service: JSON) -> str:
    """`443/TCP->8443 (node 30443), 80/TCP`: what the Service listens on, and where it sends."""
    parts = []
    for port in (service.get("spec") or {}).get("ports") or []:
        text = f"{port.get('port', '?')}/{port.get('protocol') or 'TCP'}"
        target = port.get("targetPort")
        if target not in (None, port.get("port")):
            text += f"->{target}"
        if port.get("nodePort"):
            text += f" (node {port['nodePort']})"
        parts.append(text)
    return ", ".join(parts) or "no ports"


def describe_source_ranges(service: JSON) -> str:
    spec = service.get("spec") or {}
    ranges = spec.get("loadBalancerSourceRanges") or []
    if service_type(service) != "LoadBalancer":
        return "node firewall decides who can connect"
    if not ranges or _OPEN_RANGES & set(ranges):
        return "loadBalancerSourceRanges: any address"
    return f"loadBalancerSourceRanges: {', '.join(ranges)}"


def describe_exposure(service: JSON) -> str:
    kind = service_type(service)
    return f"{kind} {describe_ports(service)}; {describe_source_ranges(service)}"


def selects(service: JSON, workload: Workload) -> bool:
    meta = _meta(service)
    if meta.get("namespace", "") != workload.namespace:
        return False
    return service_selects((service.get("spec") or {}).get("selector"), workload.labels)


def ingress_service_names(ingress: JSON) -> set[str]:
    """Services an Ingress routes to: the default backend and every rule's paths."""
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    for rule in spec.get("rules") or []:
        backends.extend(
            path.get("backend") or {} for path in (rule.get("http") or {}).get("paths") or []
        )
    return {
        name
        for backend in backends
        if (name := (backend.get("service") or {}).get("name") or backend.get("serviceName"))
    }
