"""Network checks, told as small clusters: namespaces, policies, Services, Ingresses, dashboards."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.inventory import Inventory, KindStatus
from posture.checks import network  # noqa: F401  (registers the network checks)
from posture.checks.base import REGISTRY, CheckContext, Outcome, Status, run_check
from posture.checks.dashboard import V1, V2, V7, image_generation
from posture.workloads import WORKLOAD_NEEDS

JSON = dict[str, Any]


# --- factories ------------------------------------------------------------------------------


def namespace(name: str) -> JSON:
    return {"metadata": {"name": name}}


def policy(ns: str, name: str, selector: JSON | None = None, **spec: Any) -> JSON:
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"podSelector": selector or {}, **spec},
    }


def deny_all(ns: str, *types: str) -> JSON:
    return policy(ns, "default-deny", policyTypes=list(types or ("Ingress", "Egress")))


def deployment(
    ns: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    image: str = "shop:1.0",
    args: list[str] | None = None,
    service_account: str | None = None,
    **pod_spec: Any,
) -> JSON:
    container: JSON = {"name": "main", "image": image, "args": args or []}
    spec: JSON = {"containers": [container], **pod_spec}
    if service_account:
        spec["serviceAccountName"] = service_account
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"template": {"metadata": {"labels": labels or {"app": name}}, "spec": spec}},
    }


def service(
    ns: str,
    name: str,
    kind: str = "ClusterIP",
    *,
    selector: dict[str, str] | None = None,
    ports: list[JSON] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> JSON:
    return {
        "metadata": {"namespace": ns, "name": name, "annotations": annotations or {}},
        "spec": {
            "type": kind,
            "selector": selector if selector is not None else {"app": name},
            "ports": ports or [{"port": 443, "targetPort": 8443, "protocol": "TCP"}],
            **spec,
        },
    }


def ingress(
    ns: str, name: str, backend: str, *hosts: str, tls: list[JSON] | None = None, **meta: Any
) -> JSON:
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"number": 443}}},
    }
    rules = [{"host": h, "http": {"paths": [path]}} for h in hosts] or [{"http": {"paths": [path]}}]
    return {
        "metadata": {"namespace": ns, "name": name, **meta},
        "spec": {"rules": rules, "tls": tls or []},
    }


def cluster(*deployments: JSON, **kinds: list[JSON]) -> Inventory:
    """Workload kinds are always listed (empty unless given); other kinds only when passed."""
    inventory = Inventory()
    for key in WORKLOAD_NEEDS:
        inventory.set_objects(key, [])
    inventory.set_objects("deployments", list(deployments))
    for key, items in kinds.items():
        inventory.set_objects(key, items)
    return inventory


def run(check_id: str, inventory: Inventory) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext()).outcome


def names(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(a.kind, a.namespace, a.name) for a in outcome.affected]


# --- default deny ---------------------------------------------------------------------------


def test_it_fails_namespaces_without_default_deny_and_skips_system_ones() -> None:
    inventory = cluster(
        namespaces=[namespace("shop"), namespace("blog"), namespace("kube-system")],
        networkpolicies=[deny_all("blog")],
    )
    outcome = run("network.default_deny_missing", inventory)
    assert names(outcome) == [("Namespace", "", "shop")]
    assert "nor egress" in outcome.affected[0].detail
    assert "kube-system" in REGISTRY["network.default_deny_missing"].rationale


def test_it_does_not_count_a_policy_that_allows_everything() -> None:
    allow_all = policy("shop", "allow-all", policyTypes=["Ingress"], ingress=[{}])
    inventory = cluster(namespaces=[namespace("shop")], networkpolicies=[allow_all])
    assert run("network.default_deny_missing", inventory).status == Status.FAIL


def test_it_counts_ingress_isolation_with_narrow_allowances_as_default_deny() -> None:
    same_namespace = policy("shop", "same-ns", ingress=[{"from": [{"podSelector": {}}]}])
    inventory = cluster(namespaces=[namespace("shop")], networkpolicies=[same_namespace])
    assert run("network.default_deny_missing", inventory).status == Status.PASS
    egress = run("network.default_deny_egress_missing", inventory)
    assert names(egress) == [("Namespace", "", "shop")]


def test_it_passes_egress_when_denied() -> None:
    inventory = cluster(namespaces=[namespace("shop")], networkpolicies=[deny_all("shop")])
    assert run("network.default_deny_egress_missing", inventory).status == Status.PASS


def test_it_is_unknown_when_network_policies_are_forbidden() -> None:
    inventory = cluster(namespaces=[namespace("shop")])
    inventory.set_missing("networkpolicies", KindStatus.FORBIDDEN, "403")
    outcome = run("network.default_deny_missing", inventory)
    assert outcome.status == Status.UNKNOWN
    assert "networkpolicies forbidden" in outcome.summary


# --- pods no policy selects -----------------------------------------------------------------


def test_it_matches_policy_selectors_with_expressions() -> None:
    tiers = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}
    not_batch = {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}]}
    inventory = cluster(
        deployment("shop", "web", labels={"tier": "web"}),
        deployment("shop", "worker", labels={"tier": "batch"}),
        deployment("blog", "site", labels={"app": "site"}),
        deployment("shop", "agent", labels={"tier": "batch"}, hostNetwork=True),
        networkpolicies=[policy("shop", "web", tiers), policy("blog", "not-batch", not_batch)],
    )
    outcome = run("network.pods_unselected", inventory)
    assert names(outcome) == [("Deployment", "shop", "worker")]
    assert "tier=batch" in outcome.affected[0].detail


def test_it_is_unknown_for_unselected_pods_without_workloads() -> None:
    inventory = Inventory()
    inventory.set_objects("networkpolicies", [])
    assert run("network.pods_unselected", inventory).status == Status.UNKNOWN


# --- Services and Ingresses -----------------------------------------------------------------


def test_it_lists_exposed_services_with_ports_and_source_ranges() -> None:
    inventory = cluster(
        services=[
            service("shop", "web", "LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"]),
            service("shop", "admin", "NodePort", ports=[{"port": 80, "nodePort": 30080}]),
            service(
                "shop",
                "internal",
                "LoadBalancer",
                annotations={"networking.gke.io/load-balancer-type": "Internal"},
            ),
            service("shop", "db"),
        ]
    )
    outcome = run("network.exposed_services", inventory)
    assert [(a.name, a.detail) for a in outcome.affected] == [
        ("admin", "NodePort 80/TCP (node 30080); node firewall decides who can connect"),
        ("web", "LoadBalancer 443/TCP->8443; loadBalancerSourceRanges: 203.0.113.0/24"),
    ]


def test_it_passes_exposed_services_for_cluster_ip_only() -> None:
    assert (
        run("network.exposed_services", cluster(services=[service("shop", "db")])).status
        == Status.PASS
    )


def test_it_fails_services_with_external_ips() -> None:
    inventory = cluster(
        services=[service("shop", "mitm", externalIPs=["8.8.8.8"]), service("shop", "db")]
    )
    outcome = run("network.external_ips", inventory)
    assert [(a.name, a.detail) for a in outcome.affected] == [("mitm", "externalIPs: 8.8.8.8")]


def test_it_fails_ingress_hosts_without_tls() -> None:
    inventory = cluster(
        ingresses=[
            ingress("shop", "plain", "web", "shop.example.com"),
            ingress(
                "shop",
                "partial",
                "web",
                "a.example.com",
                "b.example.org",
                tls=[{"hosts": ["*.example.com"]}],
            ),
            ingress(
                "shop", "secure", "web", "shop.example.com", tls=[{"hosts": ["shop.example.com"]}]
            ),
            ingress(
                "shop",
                "managed",
                "web",
                "m.example.com",
                annotations={"networking.gke.io/managed-certificates": "cert"},
            ),
        ]
    )
    outcome = run("network.ingress_tls", inventory)
    assert [(a.name, a.detail) for a in outcome.affected] == [
        ("partial", "no TLS for b.example.org"),
        ("plain", "no TLS for shop.example.com"),
    ]


def test_it_fails_a_hostless_ingress_without_tls() -> None:
    outcome = run("network.ingress_tls", cluster(ingresses=[ingress("shop", "catch-all", "web")]))
    assert outcome.affected[0].detail == "no TLS for any host"


def test_it_is_unknown_for_tls_when_ingresses_were_not_collected() -> None:
    assert run("network.ingress_tls", cluster()).status == Status.UNKNOWN


def test_it_fails_sensitive_interfaces_behind_a_load_balancer() -> None:
    inventory = cluster(
        deployment("ci", "jenkins", labels={"app": "jenkins"}),
        deployment("ml", "mlflow", labels={"app": "mlflow"}),
        services=[
            service("ci", "jenkins-lb", "LoadBalancer", selector={"app": "jenkins"}),
            service("ml", "mlflow", selector={"app": "mlflow"}),
        ],
    )
    outcome = run("network.sensitive_interfaces_exposed", inventory)
    assert names(outcome) == [("Service", "ci", "jenkins-lb")]
    assert outcome.affected[0].detail.startswith(
        "exposes jenkins (Deployment jenkins) via LoadBalancer"
    )


# --- CNI ------------------------------------------------------------------------------------


def daemonset(ns: str, name: str) -> JSON:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"template": {"spec": {}}}}


def test_it_passes_cni_support_with_calico() -> None:
    outcome = run(
        "network.cni_policy_support", cluster(daemonsets=[daemonset("kube-system", "calico-node")])
    )
    assert outcome.status == Status.PASS
    assert "kube-system/calico-node" in outcome.summary


def test_it_passes_cni_support_on_gke_dataplane_v2_provider_data() -> None:
    inventory = cluster()
    inventory.provider = {"networkConfig": {"datapathProvider": "ADVANCED_DATAPATH"}}
    assert run("network.cni_policy_support", inventory).status == Status.PASS


def test_it_fails_cni_support_saying_it_is_a_heuristic() -> None:
    outcome = run(
        "network.cni_policy_support", cluster(daemonsets=[daemonset("kube-system", "kube-proxy")])
    )
    assert outcome.status == Status.FAIL
    assert "heuristic" in outcome.affected[0].detail


def test_it_is_unknown_for_cni_without_daemonsets() -> None:
    inventory = Inventory()
    inventory.set_missing("daemonsets", KindStatus.NOT_COLLECTED, "")
    assert run("network.cni_policy_support", inventory).status == Status.UNKNOWN


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
