"""Kubernetes Dashboard checks: every generation, exposure, risky flags and its service account."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.inventory import KindStatus
from posture.checks import network  # noqa: F401  (registers the network checks)
from posture.checks.base import Status
from posture.checks.dashboard import V1, V2, V7, image_generation
from posture.tests.network_factories import (
    JSON,
    cluster,
    deployment,
    ingress,
    names,
    run,
    service,
)

# --- Kubernetes Dashboard -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "generation"),
    [
        ("k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1", V1),
        ("gcr.io/google_containers/kubernetes-dashboard-amd64:v1.8.3", V1),
        ("kubernetesui/dashboard:v2.7.0", V2),
        ("docker.io/kubernetesui/dashboard-api:1.13.0", V7),
        ("docker.io/kubernetesui/dashboard-metrics-scraper:1.2.2", None),
        ("nginx:1.27", None),
    ],
)
def test_it_tells_dashboard_generations_by_image(image: str, generation: str | None) -> None:
    assert image_generation(image) == generation


def dashboard(
    ns: str = "kubernetes-dashboard", *, image: str = "kubernetesui/dashboard:v2.7.0", **kwargs: Any
) -> JSON:
    kwargs.setdefault("labels", {"k8s-app": "kubernetes-dashboard"})
    return deployment(
        ns, "kubernetes-dashboard", image=image, service_account="kubernetes-dashboard", **kwargs
    )


def dashboard_service(kind: str = "ClusterIP") -> JSON:
    return service(
        "kubernetes-dashboard",
        "kubernetes-dashboard",
        kind,
        selector={"k8s-app": "kubernetes-dashboard"},
    )


def test_it_reports_each_dashboard_generation_deployed() -> None:
    inventory = cluster(
        dashboard("kube-system", image="k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1"),
        deployment(
            "dash", "kubernetes-dashboard-api", image="docker.io/kubernetesui/dashboard-api:1.13.0"
        ),
        deployment("dash", "kubernetes-dashboard-kong", image="kong:3.8"),
        deployment("shop", "kong", image="kong:3.8"),
    )
    outcome = run("network.dashboard_deployed", inventory)
    assert names(outcome) == [
        ("Deployment", "dash", "kubernetes-dashboard-api"),
        ("Deployment", "dash", "kubernetes-dashboard-kong"),
        ("Deployment", "kube-system", "kubernetes-dashboard"),
    ]
    assert outcome.affected[2].detail == (
        f"Kubernetes Dashboard {V1}, image k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1"
    )


def test_it_passes_without_a_dashboard() -> None:
    assert (
        run("network.dashboard_deployed", cluster(deployment("shop", "web"))).status == Status.PASS
    )


def test_it_fails_a_dashboard_behind_a_load_balancer() -> None:
    inventory = cluster(dashboard(), services=[dashboard_service("LoadBalancer")], ingresses=[])
    outcome = run("network.dashboard_exposed", inventory)
    assert names(outcome) == [("Service", "kubernetes-dashboard", "kubernetes-dashboard")]
    assert f"exposes Kubernetes Dashboard {V2}" in outcome.affected[0].detail


def test_it_fails_a_dashboard_routed_by_an_ingress() -> None:
    inventory = cluster(
        dashboard(),
        services=[dashboard_service()],
        ingresses=[
            ingress("kubernetes-dashboard", "dash", "kubernetes-dashboard", "dash.example.com")
        ],
    )
    outcome = run("network.dashboard_exposed", inventory)
    assert names(outcome) == [("Ingress", "kubernetes-dashboard", "dash")]


def test_it_passes_an_internal_dashboard_and_is_unknown_without_ingresses() -> None:
    inventory = cluster(dashboard(), services=[dashboard_service()], ingresses=[])
    assert run("network.dashboard_exposed", inventory).status == Status.PASS
    inventory.set_missing("ingresses", KindStatus.FORBIDDEN, "403")
    assert run("network.dashboard_exposed", inventory).status == Status.UNKNOWN


def rbac(*bindings: JSON) -> dict[str, list[JSON]]:
    admin = {
        "metadata": {"name": "cluster-admin"},
        "rules": [{"verbs": ["*"], "resources": ["*"], "apiGroups": ["*"]}],
    }
    view = {
        "metadata": {"name": "view"},
        "rules": [{"verbs": ["get"], "resources": ["pods"], "apiGroups": [""]}],
    }
    return {
        "roles": [],
        "rolebindings": [],
        "clusterroles": [admin, view],
        "clusterrolebindings": list(bindings),
    }


def dashboard_binding(role: str) -> JSON:
    return {
        "metadata": {"name": "kubernetes-dashboard"},
        "roleRef": {"kind": "ClusterRole", "name": role},
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": "kubernetes-dashboard",
                "namespace": "kubernetes-dashboard",
            }
        ],
    }


def test_it_fails_critical_when_an_exposed_dashboard_skips_login() -> None:
    inventory = cluster(
        dashboard(args=["--auto-generate-certificates", "--enable-skip-login"]),
        services=[dashboard_service("NodePort")],
        ingresses=[],
        **rbac(),
    )
    outcome = run("network.dashboard_exposed_unsafe", inventory)
    assert names(outcome) == [("Service", "kubernetes-dashboard", "kubernetes-dashboard")]
    assert outcome.affected[0].detail.endswith("; --enable-skip-login")


def test_it_fails_critical_when_an_exposed_dashboard_runs_as_admin() -> None:
    inventory = cluster(
        dashboard(),
        services=[dashboard_service("LoadBalancer")],
        ingresses=[],
        **rbac(dashboard_binding("cluster-admin")),
    )
    outcome = run("network.dashboard_exposed_unsafe", inventory)
    assert (
        "admin-equivalent via ClusterRoleBinding kubernetes-dashboard" in outcome.affected[0].detail
    )


def test_it_passes_critical_exposure_when_login_is_required_and_sa_is_minimal() -> None:
    inventory = cluster(
        dashboard(),
        services=[dashboard_service("LoadBalancer")],
        ingresses=[],
        **rbac(dashboard_binding("view")),
    )
    assert run("network.dashboard_exposed_unsafe", inventory).status == Status.PASS


def test_it_reports_risky_dashboard_flags() -> None:
    inventory = cluster(
        dashboard(
            args=[
                "--enable-skip-login=true",
                "--enable-insecure-login",
                "--authentication-mode=basic",
            ]
        ),
        dashboard("other", args=["--enable-skip-login=false", "--insecure-bind-address=127.0.0.1"]),
    )
    outcome = run("network.dashboard_skip_login", inventory)
    assert names(outcome) == [("Deployment", "kubernetes-dashboard", "kubernetes-dashboard")]
    assert outcome.affected[0].detail == (
        f"Kubernetes Dashboard {V2} runs with --authentication-mode=basic, "
        "--enable-insecure-login, --enable-skip-login"
    )


def test_it_fails_a_dashboard_bound_to_cluster_admin_naming_the_binding() -> None:
    inventory = cluster(dashboard(), **rbac(dashboard_binding("cluster-admin")))
    outcome = run("network.dashboard_admin_sa", inventory)
    assert names(outcome) == [("ClusterRoleBinding", "", "kubernetes-dashboard")]
    assert outcome.affected[0].detail.startswith(
        "grants ClusterRole cluster-admin (admin-equivalent: * on *) to ServiceAccount "
        "kubernetes-dashboard/kubernetes-dashboard"
    )


def test_it_passes_a_dashboard_with_a_minimal_service_account() -> None:
    inventory = cluster(dashboard(), **rbac(dashboard_binding("view")))
    assert run("network.dashboard_admin_sa", inventory).status == Status.PASS


def test_it_is_unknown_for_dashboard_admin_without_rbac() -> None:
    outcome = run("network.dashboard_admin_sa", cluster(dashboard()))
    assert outcome.status == Status.UNKNOWN
    assert "clusterroles" in outcome.summary


def test_it_fails_a_dashboard_given_a_wildcard_role_over_core_resources() -> None:
    everything_core = {
        "metadata": {"name": "dashboard-all"},
        "rules": [{"verbs": ["*"], "resources": ["*"], "apiGroups": [""]}],
    }
    kinds = rbac(dashboard_binding("dashboard-all"))
    kinds["clusterroles"].append(everything_core)
    outcome = run("network.dashboard_admin_sa", cluster(dashboard(), **kinds))
    assert names(outcome) == [("ClusterRoleBinding", "", "kubernetes-dashboard")]
