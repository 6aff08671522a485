"""Finding the Kubernetes Dashboard, of any of its three generations, and its risky settings.

Identification follows hardening.md §6.1: images first (they survive renamed objects), then the
`k8s-app: kubernetes-dashboard` label that v1 and v2 manifests put on their pods.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.inventory import JSON, Inventory
from posture.workloads import Workload, workloads

V1 = "v1 (GKE add-on era)"
V2 = "v2 (manifest install)"
V7 = "v7 (Helm chart)"
UNKNOWN = "unknown generation (labelled k8s-app=kubernetes-dashboard)"

# v7 splits the dashboard into these images under kubernetesui/, fronted by a Kong gateway.
_V7_IMAGES = frozenset({"dashboard-api", "dashboard-auth", "dashboard-web"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TRUE = frozenset({"", "1", "t", "true"})  # Go's strconv.ParseBool; bare flag means true
# v1 served plain HTTP on 9090 when its insecure port was opened to the pod network.
_INSECURE_CONTAINER_PORT = 9090


def _repository(image: str) -> list[str]:
    """Path segments of an image reference without tag or digest."""
    name = image.split("@", 1)[0]
    segments = name.split("/")
    segments[-1] = segments[-1].split(":", 1)[0]
    return segments


def image_generation(image: str) -> str | None:
    segments = _repository(image)
    last = segments[-1]
    parent = segments[-2] if len(segments) > 1 else ""
    if parent == "kubernetesui" and last in _V7_IMAGES:
        return V7
    if parent == "kubernetesui" and (last == "dashboard" or last.startswith("dashboard-")):
        # dashboard-metrics-scraper is a companion, not the UI.
        return None if last == "dashboard-metrics-scraper" else V2
    if last.startswith("kubernetes-dashboard"):
        return V1
    return None


@dataclass(frozen=True)
class DashboardPart:
    workload: Workload
    generation: str
    image: str

    @property
    def service_account(self) -> str:
        spec = self.workload.pod_spec
        return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"

    def describe(self) -> str:
        return f"Kubernetes Dashboard {self.generation}, image {self.image}"


def dashboard_parts(inventory: Inventory) -> list[DashboardPart]:
    """Workloads that are (part of) a Kubernetes Dashboard, v7's Kong gateway included."""
    # Five checks ask; the answer is found once per inventory.
    return inventory.derived("dashboard_parts", _find_dashboard_parts)


def _find_dashboard_parts(inventory: Inventory) -> list[DashboardPart]:
    parts: list[DashboardPart] = []
    kong: list[tuple[Workload, str]] = []
    for workload in workloads(inventory):
        found = None
        for _, container in workload.containers():
            image = container.get("image") or ""
            generation = image_generation(image)
            if generation:
                found = DashboardPart(workload, generation, image)
                break
            if _repository(image)[-1] == "kong":
                kong.append((workload, image))
        if found is None and workload.labels.get("k8s-app") == "kubernetes-dashboard":
            image = next((c.get("image", "") for _, c in workload.containers()), "")
            found = DashboardPart(workload, UNKNOWN, image)
        if found:
            parts.append(found)
    # Kong is only the dashboard's front door where a v7 dashboard runs in the same namespace.
    v7_namespaces = {p.workload.namespace for p in parts if p.generation == V7}
    parts.extend(
        DashboardPart(workload, f"{V7} gateway", image)
        for workload, image in kong
        if workload.namespace in v7_namespaces and all(p.workload is not workload for p in parts)
    )
    return parts


def risky_flags(part: DashboardPart) -> list[str]:
    """Settings that let people in without credentials or send credentials in the clear."""
    found = []
    for _, container in part.workload.containers():
        for flag, value in _flags(container):
            if flag in (
                "enable-skip-login",
                "enable-insecure-login",
                "disable-settings-authorizer",
            ):
                if value.lower() in _TRUE:
                    found.append(f"--{flag}")
            elif flag == "authentication-mode" and "basic" in value.split(","):
                found.append(f"--authentication-mode={value}")
            elif flag == "insecure-bind-address" and value not in _LOOPBACK:
                found.append(f"--insecure-bind-address={value}")
        for port in container.get("ports") or []:
            if port.get("containerPort") == _INSECURE_CONTAINER_PORT:
                found.append(f"plain-HTTP container port {_INSECURE_CONTAINER_PORT}")
    return sorted(set(found))


def _flags(container: JSON) -> list[tuple[str, str]]:
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    result = []
    for word in words:
        if isinstance(word, str) and word.startswith("-"):
            name, _, value = word.lstrip("-").partition("=")
            result.append((name, value))
    return result
