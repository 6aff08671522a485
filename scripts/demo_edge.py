"""Demo cluster `edge-dev`: a single-node kubeadm dev box, collected with restricted rights.

The collector's credentials could not list RBAC objects, so the bundle has no roles.json,
clusterroles.json, rolebindings.json or clusterrolebindings.json: every check that needs them
must come out unknown, never pass. Kubernetes 1.29 does not serve admissionregistration/v1
ValidatingAdmissionPolicies, so those files are missing too (not served).
"""

from __future__ import annotations

from demo_kubeadm import control_plane, coredns, kube_proxy, kubeadm_node
from kube_cluster import Cluster, DemoCluster, version_body
from kube_pods import env, host_path, pinned

NAME = "edge-dev"
VERSION = "v1.29.4"
NODE = "edge-dev-1"
READER = "system:serviceaccount:rampart:rampart-reader"
RBAC_KEYS = ("clusterrolebindings", "clusterroles", "rolebindings", "roles")
PLANTED = [
    f"Control plane `{VERSION}`: Kubernetes 1.29 reached end of life on 2025-02-28.",
    "The node runs containerd 1.7 (end of life 2026-09-01).",
    "Deployment `tools/debug-shell` is scaled to zero but its pod template is privileged: "
    "the risk is in the template, not in a running pod.",
    "Bare Pod `default/scratch` (no owner) mounts the node's root filesystem (hostPath `/`).",
    "Ingress `web/dev-site` serves `dev.edge.example.internal` without TLS.",
    "Collected with restricted rights: roles, clusterroles, rolebindings and clusterrolebindings "
    "were forbidden, so the RBAC checks must be unknown.",
]


def _flannel(cluster: Cluster) -> None:
    ns = "kube-flannel"
    cluster.service_account(ns, "flannel")
    template = cluster.template(
        {"app": "flannel", "k8s-app": "flannel", "tier": "node"},
        [
            {
                "name": "kube-flannel",
                "image": "docker.io/flannel/flannel:v0.25.1",
                "command": ["/opt/bin/flanneld"],
                "args": ["--ip-masq", "--kube-subnet-mgr"],
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    *env(EVENT_QUEUE_DEPTH="5000"),
                ],
                "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                "securityContext": {
                    "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]},
                    "privileged": False,
                },
                "volumeMounts": [
                    {"mountPath": "/run/flannel", "name": "run"},
                    {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                ],
            }
        ],
        init=[
            {
                "name": "install-cni-plugin",
                "image": "docker.io/flannel/flannel-cni-plugin:v1.4.0-flannel1",
                "command": ["cp"],
                "args": ["-f", "/flannel", "/opt/cni/bin/flannel"],
                "volumeMounts": [{"mountPath": "/opt/cni/bin", "name": "cni-plugin"}],
            }
        ],
        hostNetwork=True,
        serviceAccountName="flannel",
        priorityClassName="system-node-critical",
        tolerations=[{"effect": "NoSchedule", "operator": "Exists"}],
        volumes=[
            host_path("run", "/run/flannel"),
            host_path("cni-plugin", "/opt/cni/bin"),
            host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
        ],
    )
    cluster.daemonset(ns, "kube-flannel-ds", template)


def _ingress_nginx(cluster: Cluster) -> None:
    ns = "ingress-nginx"
    labels = {
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/instance": ns,
        "app.kubernetes.io/name": ns,
    }
    cluster.service_account(ns, ns)
    template = cluster.template(
        labels,
        [
            {
                "name": "controller",
                "image": pinned("registry.k8s.io/ingress-nginx/controller", "v1.10.1"),
                "args": [
                    "/nginx-ingress-controller",
                    "--election-id=ingress-nginx-leader",
                    "--controller-class=k8s.io/ingress-nginx",
                    "--ingress-class=nginx",
                    "--validating-webhook=:8443",
                ],
                "ports": [
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443, "name": "https"},
                    {"containerPort": 8443, "name": "webhook"},
                ],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "runAsNonRoot": True,
                    "runAsUser": 101,
                    "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                },
            }
        ],
        serviceAccountName=ns,
        nodeSelector={"kubernetes.io/os": "linux"},
    )
    cluster.deployment(ns, "ingress-nginx-controller", template)
    cluster.service(
        ns,
        "ingress-nginx-controller",
        type="NodePort",
        selector=labels,
        ports=[
            {"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080},
            {"name": "https", "port": 443, "targetPort": "https", "nodePort": 30444},
        ],
    )
    cluster.service(
        ns,
        "ingress-nginx-controller-admission",
        selector=labels,
        ports=[{"name": "https-webhook", "port": 443, "targetPort": "webhook"}],
    )
    cluster.webhook_configuration(
        "validatingwebhookconfigurations",
        "ingress-nginx-admission",
        [
            {
                "name": "validate.nginx.ingress.kubernetes.io",
                "rules": [
                    {
                        "apiGroups": ["networking.k8s.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["ingresses"],
                        "scope": "*",
                    }
                ],
                "service": {
                    "name": "ingress-nginx-controller-admission",
                    "namespace": ns,
                    "path": "/networking/v1/ingresses",
                },
            }
        ],
    )


def _workloads(cluster: Cluster) -> None:
    debug = cluster.template(
        {"app": "debug-shell"},
        [
            {
                "name": "shell",
                "image": "nicolaka/netshoot:v0.13",
                "command": ["sleep", "infinity"],
                "securityContext": {"privileged": True},
                "stdin": True,
                "tty": True,
            }
        ],
    )
    cluster.deployment("tools", "debug-shell", debug, replicas=0)
    scratch = cluster.template(
        {"run": "scratch"},
        [
            {
                "name": "scratch",
                "image": "busybox:1.36.1",
                "command": ["sleep", "3600000"],
                "volumeMounts": [{"mountPath": "/host", "name": "host-root"}],
            }
        ],
        volumes=[host_path("host-root", "/")],
    )
    cluster.pod("default", "scratch", scratch, node=NODE, created="2026-11-18T15:02:11Z")
    site = cluster.template(
        {"app": "dev-site"},
        [
            {
                "name": "site",
                "image": "registry.example.com/edge/dev-site:0.9.3",
                "ports": [{"containerPort": 8080, "name": "http"}],
            }
        ],
    )
    cluster.deployment("web", "dev-site", site, revision=3)
    cluster.service(
        "web",
        "dev-site",
        selector={"app": "dev-site"},
        ports=[{"name": "http", "port": 80, "targetPort": "http"}],
    )
    cluster.ingress(
        "web",
        "dev-site",
        {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "dev.edge.example.internal",
                    "http": {
                        "paths": [
                            {
                                "backend": {
                                    "service": {"name": "dev-site", "port": {"number": 80}}
                                },
                                "path": "/",
                                "pathType": "Prefix",
                            }
                        ]
                    },
                }
            ],
        },
        lb_ip="10.128.0.10",
    )


def build_edge() -> DemoCluster:
    cluster = Cluster(
        NAME,
        created="2024-05-02T17:44:09Z",
        collected="2026-11-24T16:30:00Z",
        pod_cidr="10.244",
        svc_cidr="10.96",
    )
    kubeadm_node(
        cluster,
        NODE,
        kubelet=VERSION,
        runtime="containerd://1.7.15",
        control_plane=True,
        tainted=False,
        os_image="Ubuntu 22.04.3 LTS",
        kernel="5.15.0-91-generic",
    )
    for ns in (
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "kube-flannel",
        "ingress-nginx",
        "tools",
        "web",
    ):
        cluster.namespace(ns)
    control_plane(cluster, NODE, VERSION)
    coredns(cluster, version="v1.11.1")
    kube_proxy(cluster, VERSION)
    _flannel(cluster)
    _ingress_nginx(cluster)
    _workloads(cluster)
    cluster.finish()
    forbidden = [
        (
            key,
            "forbidden",
            f"Error from server (Forbidden): {key}.rbac.authorization.k8s.io is forbidden: "
            f'User "{READER}" cannot list resource "{key}" in API group '
            '"rbac.authorization.k8s.io" at the cluster scope',
        )
        for key in RBAC_KEYS
    ]
    not_served = [
        (key, "not_served", f'error: the server doesn\'t have a resource type "{key}"')
        for key in (
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
            "vulnerabilityreports",
        )
    ]
    return DemoCluster(
        cluster=cluster,
        version=version_body(VERSION, build_date="2024-04-16T15:03:05Z", go="go1.22.2"),
        description=(
            f"Single-node kubeadm dev box, `{VERSION}` with containerd 1.7 and Flannel, collected "
            "by an auditor whose credentials could not list RBAC objects: a partial bundle."
        ),
        planted=PLANTED,
        expected={
            "fail": {
                "patching.control_plane_eol": [],
                "patching.runtime_eol": [{"kind": "Node", "namespace": "", "name": NODE}],
                "isolation.privileged": [_ref("Deployment", "tools", "debug-shell")],
                "isolation.host_path": [_ref("Pod", "default", "scratch")],
                "network.ingress_tls": [_ref("Ingress", "web", "dev-site")],
            },
            "unknown": [
                "access.anonymous_bindings",
                "access.cluster_admin_bindings",
                "access.wildcard_roles",
            ],
        },
        omit=(
            *RBAC_KEYS,
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
            "vulnerabilityreports",
        ),
        errors=forbidden + not_served,
    )


def _ref(kind: str, namespace: str, name: str) -> dict[str, str]:
    return {"kind": kind, "namespace": namespace, "name": name}
