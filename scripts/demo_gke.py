"""Demo cluster `payments-prod`: a mostly hardened GKE cluster with a handful of planted problems.

Hardened: Dataplane V2 (anetd) with default-deny NetworkPolicies, Pod Security Admission labels,
images pinned by digest, Policy Controller (Gatekeeper) webhooks failing closed, private nodes,
Binary Authorization and Workload Identity in `gke-cluster.json`.
Planted: see `PLANTED` and the cluster's EXPECTED.json.
"""

from __future__ import annotations

from demo_gke_system import (
    GKE_VERSION,
    NAME,
    OLD_POOL_VERSION,
    PROJECT,
    gke_cluster,
    gke_nodes,
    gke_upgrade_info,
    kube_system,
    policy_controller,
)
from kube_cluster import Cluster, DemoCluster, version_body
from kube_objects import group, rule, sa, user
from kube_pods import POD_RESTRICTED, RESTRICTED, env, http_probe, pinned, resources

APP_REGISTRY = f"us-docker.pkg.dev/{PROJECT}/apps"
PSA_RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
}
PLANTED = [
    "Deployment `ledger/reconciler` runs a privileged container (its namespace was relaxed to "
    "PSA `enforce: privileged` for it).",
    "Service `checkout/checkout-public` is a LoadBalancer with a public IP.",
    "ClusterRoleBinding `oncall-admin` grants cluster-admin to User `oncall@example.com`.",
    "Namespace `analytics` has workloads but no NetworkPolicy at all.",
    "Node `gke-payments-prod-pool-b-3` (node pool `pool-b`, auto-upgrade off) runs kubelet "
    f"`v{OLD_POOL_VERSION}`: an end-of-life minor, two minors behind the control plane "
    "(within the upstream skew limit of three, so only 'behind' is asserted).",
    "In `gke-cluster.json`: node pool `pool-b` has `management.autoUpgrade` false, runs an "
    "older GKE build than the control plane and leaves the kubelet read-only port enabled; "
    "Google Groups for RBAC and security-bulletin notifications are off.",
    "In `gke-upgrade-info.json`: GKE's patch target (`patchTargetVersion` "
    "1.35.6-gke.1101000) is newer than the control plane's build.",
]


def _app(cluster: Cluster, ns: str, name: str, tag: str, port: int, **extra: object) -> dict:
    container = {
        "name": name,
        "image": pinned(f"{APP_REGISTRY}/{name}", tag),
        "env": env(GOOGLE_CLOUD_PROJECT=PROJECT, PORT=str(port)),
        "ports": [{"containerPort": port, "name": "http"}],
        "readinessProbe": http_probe("http", "/readyz"),
        "resources": resources("250m", "256Mi", "512Mi"),
        "securityContext": dict(RESTRICTED),
        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}],  # noqa: S108
    } | extra
    return cluster.template(
        {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns},
        [container],
        serviceAccountName=name,
        securityContext=dict(POD_RESTRICTED),
        automountServiceAccountToken=False,
        volumes=[{"emptyDir": {"sizeLimit": "256Mi"}, "name": "tmp"}],
    )


def _apps(cluster: Cluster) -> None:
    identity = "iam.gke.io/gcp-service-account"
    for ns, name in (
        ("ledger", "ledger-api"),
        ("ledger", "reconciler"),
        ("checkout", "checkout"),
        ("checkout", "checkout-worker"),
        ("analytics", "event-aggregator"),
        ("analytics", "daily-rollup"),
        ("ledger", "ledger-cache"),
    ):
        cluster.service_account(ns, name, {identity: f"{name}@{PROJECT}.iam.gserviceaccount.com"})
    cluster.deployment(
        "ledger",
        "ledger-api",
        _app(cluster, "ledger", "ledger-api", "4.12.1", 8080),
        replicas=3,
        revision=7,
    )
    reconciler = _app(
        cluster,
        "ledger",
        "reconciler",
        "2.3.0",
        9090,
        args=["--mode=continuous", "--raw-socket-probe"],
        securityContext={"privileged": True, "allowPrivilegeEscalation": True},
    )
    reconciler["spec"]["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    cluster.deployment("ledger", "reconciler", reconciler, revision=3)
    cache = _app(cluster, "ledger", "ledger-cache", "7.4.2", 6379)
    cluster.statefulset("ledger", "ledger-cache", cache, replicas=3, service="ledger-cache")
    cluster.deployment(
        "checkout",
        "checkout",
        _app(cluster, "checkout", "checkout", "9.0.4", 8443),
        replicas=3,
        revision=12,
    )
    cluster.deployment(
        "checkout",
        "checkout-worker",
        _app(cluster, "checkout", "checkout-worker", "9.0.4", 8080),
        replicas=2,
        revision=12,
    )
    cluster.deployment(
        "analytics",
        "event-aggregator",
        _app(cluster, "analytics", "event-aggregator", "1.8.0", 8080),
        replicas=2,
        revision=2,
    )
    rollup = _app(cluster, "analytics", "daily-rollup", "1.8.0", 8080)
    cluster.cronjob(
        "analytics", "daily-rollup", rollup, schedule="0 3 * * *", last_run="2026-11-25T03:00:00Z"
    )
    for ns, name, port in (
        ("ledger", "ledger-api", 8080),
        ("ledger", "ledger-cache", 6379),
        ("checkout", "checkout", 8443),
        ("analytics", "event-aggregator", 8080),
    ):
        cluster.service(
            ns,
            name,
            selector={"app.kubernetes.io/name": name},
            ports=[{"name": "http", "port": port}],
        )
    cluster.service(
        "checkout",
        "checkout-public",
        type="LoadBalancer",
        selector={"app.kubernetes.io/name": "checkout"},
        annotations={"cloud.google.com/l4-rbs": "enabled"},
        ports=[{"name": "https", "port": 443, "targetPort": 8443}],
        lb_ip="34.118.201.44",
    )


def _network(cluster: Cluster) -> None:
    for ns in ("default", "ledger", "checkout", "gatekeeper-system"):
        cluster.default_deny(ns)
        cluster.network_policy(
            ns,
            "allow-dns",
            {
                "egress": [
                    {
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                    }
                ],
                "podSelector": {},
                "policyTypes": ["Egress"],
            },
        )
    cluster.network_policy(
        "ledger",
        "allow-from-checkout",
        {
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "checkout"}
                            }
                        }
                    ],
                    "ports": [{"port": 8080, "protocol": "TCP"}],
                }
            ],
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ledger-api"}},
            "policyTypes": ["Ingress"],
        },
    )
    cluster.network_policy(
        "checkout",
        "allow-https-from-lb",
        {
            "ingress": [{"ports": [{"port": 8443, "protocol": "TCP"}]}],
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "checkout"}},
            "policyTypes": ["Ingress"],
        },
    )


def _rbac(cluster: Cluster) -> None:
    cluster.default_rbac(
        (
            "deployment-controller",
            "replicaset-controller",
            "daemon-set-controller",
            "job-controller",
            "cronjob-controller",
            "namespace-controller",
        )
    )
    cluster.cluster_role(
        "system:node-bootstrapper",
        [
            rule(
                ["certificates.k8s.io"],
                ["certificatesigningrequests"],
                ["create", "get", "list", "watch"],
            )
        ],
        default=True,
    )
    cluster.cluster_role_binding("kubelet-bootstrap", "system:node-bootstrapper", [user("kubelet")])
    cluster.cluster_role_binding("oncall-admin", "cluster-admin", [user("oncall@example.com")])
    cluster.cluster_role_binding(
        "security-auditors", "view", [group("gke-security-auditors@example.com")]
    )
    for ns, team in (
        ("ledger", "ledger-team"),
        ("checkout", "checkout-team"),
        ("analytics", "data-team"),
    ):
        cluster.role_binding(
            ns, f"{team}-edit", "ClusterRole", "edit", [group(f"{team}@example.com")]
        )
    cluster.role(
        "ledger",
        "reconciler-leader-election",
        [rule(["coordination.k8s.io"], ["leases"], ["create", "get", "update"])],
    )
    cluster.role_binding(
        "ledger",
        "reconciler-leader-election",
        "Role",
        "reconciler-leader-election",
        [sa("ledger", "reconciler")],
    )
    cluster.role(
        "checkout", "checkout-config-reader", [rule([""], ["configmaps"], ["get", "list"])]
    )
    cluster.role_binding(
        "checkout",
        "checkout-config-reader",
        "Role",
        "checkout-config-reader",
        [sa("checkout", "checkout"), sa("checkout", "checkout-worker")],
    )


def build() -> DemoCluster:
    cluster = Cluster(
        NAME,
        created="2025-01-14T10:21:07Z",
        collected="2026-11-25T13:40:00Z",
        pod_cidr="10.52",
        svc_cidr="10.60",
    )
    gke_nodes(cluster)
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        cluster.namespace(ns, PSA_RESTRICTED if ns == "default" else None, automount=False)
    cluster.namespace(
        "gatekeeper-system",
        {**PSA_RESTRICTED, "admission.gatekeeper.sh/ignore": "no-self-managing"},
        automount=False,
    )
    cluster.namespace("checkout", PSA_RESTRICTED, automount=False)
    cluster.namespace("analytics", PSA_RESTRICTED, automount=False)
    cluster.namespace(
        "ledger",
        {
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        },
        {"payments.example.com/psa-exception": "INC-4821: reconciler needs raw sockets"},
        automount=False,
    )
    cluster.service(
        "default",
        "kubernetes",
        selector=None,
        fixed_ip="0.1",
        labels={"component": "apiserver", "provider": "kubernetes"},
        ports=[{"name": "https", "port": 443, "targetPort": 443}],
    )
    kube_system(cluster)
    _apps(cluster)
    _network(cluster)
    policy_controller(cluster)
    _rbac(cluster)
    cluster.finish()
    node = f"gke-{NAME}-pool-b-3"
    return DemoCluster(
        cluster=cluster,
        version=version_body(
            f"v{GKE_VERSION}", build_date="2026-03-04T09:21:44Z", go="go1.25.7 X:boringcrypto"
        ),
        description=(
            f"GKE-like production cluster, control plane `v{GKE_VERSION}`, 4 nodes in two node "
            "pools, Dataplane V2, mostly hardened: default-deny NetworkPolicies, Pod Security "
            "Admission `restricted`, images pinned by digest, Policy Controller failing closed, "
            "private nodes, Binary Authorization, Workload Identity, Secrets encrypted with "
            "Cloud KMS, Shielded nodes (see `gke-cluster.json` and `gke-upgrade-info.json`)."
        ),
        planted=PLANTED,
        expected={
            "fail": {
                "isolation.privileged": [_ref("Deployment", "ledger", "reconciler")],
                "network.exposed_services": [_ref("Service", "checkout", "checkout-public")],
                "access.cluster_admin_bindings": [_ref("ClusterRoleBinding", "", "oncall-admin")],
                "network.default_deny_missing": [_ref("Namespace", "", "analytics")],
                "patching.kubelet_behind": [_ref("Node", "", node)],
                "patching.control_plane_patch": [_ref("Cluster", "", "control-plane")],
                "provider.gke_node_auto_upgrade": [_ref("NodePool", "", "pool-b")],
                "provider.gke_node_pool_versions": [_ref("NodePool", "", "pool-b")],
                "provider.gke_kubelet_readonly_port": [_ref("NodePool", "", "pool-b")],
                "provider.gke_google_groups_rbac": [_ref("Cluster", "", NAME)],
                "provider.gke_security_bulletins": [_ref("Cluster", "", NAME)],
            },
            "unknown": [],
        },
        omit=("vulnerabilityreports",),
        errors=[
            (
                "vulnerabilityreports",
                "not_served",
                'error: the server doesn\'t have a resource type "vulnerabilityreports"',
            )
        ],
        provider_files={
            "gke-cluster.json": gke_cluster(),
            "gke-upgrade-info.json": gke_upgrade_info(),
        },
    )


def _ref(kind: str, namespace: str, name: str) -> dict[str, str]:
    return {"kind": kind, "namespace": namespace, "name": name}
