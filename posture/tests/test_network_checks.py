"""Network checks, told as small clusters: namespaces, policies, Services, Ingresses, dashboards."""

from __future__ import annotations

from clusters.inventory import Inventory, KindStatus
from clusters.providers import GKE, provider_set
from posture.checks import network  # noqa: F401  (registers the network checks)
from posture.checks.base import REGISTRY, Status
from posture.tests.network_factories import (
    JSON,
    cluster,
    deny_all,
    deployment,
    ingress,
    names,
    namespace,
    policy,
    run,
    service,
)

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
    dataplane = {"networkConfig": {"datapathProvider": "ADVANCED_DATAPATH"}}
    provider_set(inventory, GKE, dataplane, source="test")
    outcome = run("network.cni_policy_support", inventory)
    assert outcome.status == Status.PASS
    assert 'networkConfig.datapathProvider = "ADVANCED_DATAPATH"' in outcome.summary


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
