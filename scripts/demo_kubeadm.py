"""What every kubeadm cluster has: control-plane static pods, CoreDNS, kube-proxy, a CNI.

Shared by the demo clusters `storefront-staging` (Calico) and `edge-dev` (Flannel). These
system workloads are realistic noise: kube-proxy and the CNI run privileged with hostNetwork and
hostPath mounts, as they do in real clusters.
"""

from __future__ import annotations

from kube_cluster import Cluster
from kube_objects import READ, group, rule, sa
from kube_pods import env, host_path, http_probe, resources

CONTROL_PLANE_TAINT = {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}
_CONTROL_PLANE_TOLERATION = {**CONTROL_PLANE_TAINT, "operator": "Exists"}


def kubeadm_node(
    cluster: Cluster,
    name: str,
    *,
    kubelet: str,
    runtime: str,
    control_plane: bool,
    tainted: bool = True,
    os_image: str = "Ubuntu 22.04.4 LTS",
    kernel: str = "5.15.0-107-generic",
) -> None:
    labels = {"node-role.kubernetes.io/control-plane": ""} if control_plane else {}
    if control_plane:
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    cluster.node(
        name,
        kubelet=kubelet,
        runtime=runtime,
        kernel=kernel,
        os_image=os_image,
        labels=labels,
        taints=[CONTROL_PLANE_TAINT] if control_plane and tainted else None,
        annotations={
            "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock"
        },
    )


def control_plane(cluster: Cluster, node: str, version: str) -> None:
    """The four static pods kubeadm writes to /etc/kubernetes/manifests, as mirror pods."""
    ip = cluster.node_ip(node)
    commands = {
        "etcd": [
            "etcd",
            f"--advertise-client-urls=https://{ip}:2379",
            "--data-dir=/var/lib/etcd",
            "--client-cert-auth=true",
            "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
        ],
        "kube-apiserver": [
            "kube-apiserver",
            f"--advertise-address={ip}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--secure-port=6443",
            "--service-cluster-ip-range=10.96.0.0/12",
        ],
        "kube-controller-manager": [
            "kube-controller-manager",
            "--bind-address=127.0.0.1",
            "--use-service-account-credentials=true",
        ],
        "kube-scheduler": [
            "kube-scheduler",
            "--bind-address=127.0.0.1",
            "--kubeconfig=/etc/kubernetes/scheduler.conf",
        ],
    }
    for component, command in commands.items():
        image = (
            "registry.k8s.io/etcd:3.5.21-0"
            if component == "etcd"
            else f"registry.k8s.io/{component}:{version}"
        )
        mounts = (
            [("etc-pki", "/etc/kubernetes/pki")]
            if component != "etcd"
            else [("etcd-certs", "/etc/kubernetes/pki/etcd"), ("etcd-data", "/var/lib/etcd")]
        )
        template = cluster.template(
            {"component": component, "tier": "control-plane"},
            [
                {
                    "name": component,
                    "image": image,
                    "command": command,
                    "resources": {
                        "requests": {"cpu": "250m" if component == "kube-apiserver" else "100m"}
                    },
                    "livenessProbe": http_probe(
                        10257 if component == "kube-controller-manager" else 6443, "/livez", "HTTPS"
                    ),
                    "volumeMounts": [
                        {"mountPath": path, "name": name, "readOnly": name != "etcd-data"}
                        for name, path in mounts
                    ],
                }
            ],
            hostNetwork=True,
            priorityClassName="system-node-critical",
            securityContext={"seccompProfile": {"type": "RuntimeDefault"}},
            volumes=[host_path(name, path, "DirectoryOrCreate") for name, path in mounts],
        )
        cluster.static_pod("kube-system", component, node, template)


def coredns(cluster: Cluster, *, version: str = "v1.12.0") -> None:
    cluster.service_account("kube-system", "coredns")
    template = cluster.template(
        {"k8s-app": "kube-dns"},
        [
            {
                "name": "coredns",
                "image": f"registry.k8s.io/coredns/coredns:{version}",
                "args": ["-conf", "/etc/coredns/Corefile"],
                "ports": [
                    {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                    {"containerPort": 53, "name": "dns-tcp"},
                    {"containerPort": 9153, "name": "metrics"},
                ],
                "resources": resources("100m", "70Mi", "170Mi"),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                },
                "livenessProbe": http_probe(8080, "/health"),
                "volumeMounts": [
                    {"mountPath": "/etc/coredns", "name": "config-volume", "readOnly": True}
                ],
            }
        ],
        serviceAccountName="coredns",
        priorityClassName="system-cluster-critical",
        dnsPolicy="Default",
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            _CONTROL_PLANE_TOLERATION,
        ],
        volumes=[
            {
                "configMap": {
                    "defaultMode": 420,
                    "items": [{"key": "Corefile", "path": "Corefile"}],
                    "name": "coredns",
                },
                "name": "config-volume",
            }
        ],
    )
    cluster.deployment("kube-system", "coredns", template, replicas=2, apply=False)
    cluster.service(
        "kube-system",
        "kube-dns",
        selector={"k8s-app": "kube-dns"},
        fixed_ip="0.10",
        labels={"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
        annotations={"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53},
            {"name": "metrics", "port": 9153},
        ],
    )
    cluster.service(
        "default",
        "kubernetes",
        selector=None,
        fixed_ip="0.1",
        labels={"component": "apiserver", "provider": "kubernetes"},
        ports=[{"name": "https", "port": 443, "targetPort": 6443}],
    )


def kube_proxy(cluster: Cluster, version: str) -> None:
    cluster.service_account("kube-system", "kube-proxy")
    template = cluster.template(
        {"k8s-app": "kube-proxy"},
        [
            {
                "name": "kube-proxy",
                "image": f"registry.k8s.io/kube-proxy:{version}",
                "command": [
                    "/usr/local/bin/kube-proxy",
                    "--config=/var/lib/kube-proxy/config.conf",
                    "--hostname-override=$(NODE_NAME)",
                ],
                "env": [
                    {
                        "name": "NODE_NAME",
                        "valueFrom": {
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}
                        },
                    }
                ],
                "securityContext": {"privileged": True},
                "volumeMounts": [
                    {"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                    {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                    {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
                ],
            }
        ],
        hostNetwork=True,
        serviceAccountName="kube-proxy",
        priorityClassName="system-node-critical",
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[{"operator": "Exists"}],
        volumes=[
            {"configMap": {"defaultMode": 420, "name": "kube-proxy"}, "name": "kube-proxy"},
            host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
            host_path("lib-modules", "/lib/modules"),
        ],
    )
    cluster.daemonset("kube-system", "kube-proxy", template)


def calico(cluster: Cluster, version: str = "v3.28.2") -> None:
    ns = "kube-system"
    for name in ("calico-node", "calico-kube-controllers", "calico-cni-plugin"):
        cluster.service_account(ns, name)
    node = cluster.template(
        {"k8s-app": "calico-node"},
        [
            {
                "name": "calico-node",
                "image": f"docker.io/calico/node:{version}",
                "env": env(
                    DATASTORE_TYPE="kubernetes",
                    CALICO_NETWORKING_BACKEND="bird",
                    IP="autodetect",
                    CALICO_IPV4POOL_IPIP="Always",
                    FELIX_DEFAULTENDPOINTTOHOSTACTION="ACCEPT",
                ),
                "resources": {"requests": {"cpu": "250m"}},
                "securityContext": {"privileged": True},
                "volumeMounts": [
                    {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
                    {"mountPath": "/var/run/calico", "name": "var-run-calico"},
                    {"mountPath": "/var/lib/calico", "name": "var-lib-calico"},
                    {"mountPath": "/sys/fs/bpf", "name": "bpffs"},
                ],
            }
        ],
        init=[
            {
                "name": "install-cni",
                "image": f"docker.io/calico/cni:{version}",
                "command": ["/opt/cni/bin/install"],
                "securityContext": {"privileged": True},
                "volumeMounts": [
                    {"mountPath": "/host/opt/cni/bin", "name": "cni-bin-dir"},
                    {"mountPath": "/host/etc/cni/net.d", "name": "cni-net-dir"},
                ],
            }
        ],
        hostNetwork=True,
        serviceAccountName="calico-node",
        priorityClassName="system-node-critical",
        terminationGracePeriodSeconds=0,
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[
            {"effect": "NoSchedule", "operator": "Exists"},
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoExecute", "operator": "Exists"},
        ],
        volumes=[
            host_path("lib-modules", "/lib/modules"),
            host_path("var-run-calico", "/var/run/calico"),
            host_path("var-lib-calico", "/var/lib/calico"),
            host_path("bpffs", "/sys/fs/bpf", "Directory"),
            host_path("cni-bin-dir", "/opt/cni/bin"),
            host_path("cni-net-dir", "/etc/cni/net.d"),
        ],
    )
    cluster.daemonset(ns, "calico-node", node)
    controllers = cluster.template(
        {"k8s-app": "calico-kube-controllers"},
        [
            {
                "name": "calico-kube-controllers",
                "image": f"docker.io/calico/kube-controllers:{version}",
                "env": env(ENABLED_CONTROLLERS="node", DATASTORE_TYPE="kubernetes"),
                "securityContext": {"runAsNonRoot": True},
            }
        ],
        serviceAccountName="calico-kube-controllers",
        priorityClassName="system-cluster-critical",
        nodeSelector={"kubernetes.io/os": "linux"},
        tolerations=[
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            _CONTROL_PLANE_TOLERATION,
        ],
    )
    cluster.deployment(ns, "calico-kube-controllers", controllers)
    for plural, kind in (
        ("bgpconfigurations", "BGPConfiguration"),
        ("felixconfigurations", "FelixConfiguration"),
        ("ippools", "IPPool"),
        ("globalnetworkpolicies", "GlobalNetworkPolicy"),
        ("networkpolicies", "NetworkPolicy"),
    ):
        scope = "Namespaced" if plural == "networkpolicies" else "Cluster"
        cluster.crd("crd.projectcalico.org", plural, kind, scope=scope)
    cluster.cluster_role(
        "calico-node",
        [
            rule([""], ["pods", "nodes", "namespaces"], ["get"]),
            rule([""], ["endpoints", "services"], ["watch", "list", "get"]),
            rule(
                ["crd.projectcalico.org"],
                [
                    "globalfelixconfigs",
                    "felixconfigurations",
                    "ippools",
                    "globalnetworkpolicies",
                    "networkpolicies",
                    "blockaffinities",
                ],
                [*READ, "create", "update"],
            ),
        ],
    )
    cluster.cluster_role(
        "calico-kube-controllers",
        [
            rule([""], ["nodes"], READ),
            rule(
                ["crd.projectcalico.org"],
                ["ipamblocks", "blockaffinities", "ippools"],
                [*READ, "delete"],
            ),
        ],
    )
    for name in ("calico-node", "calico-kube-controllers"):
        cluster.cluster_role_binding(name, name, [sa(ns, name)])


def kubeadm_rbac(cluster: Cluster) -> None:
    """Bootstrap RBAC plus the bindings `kubeadm init` creates (v1.29+)."""
    cluster.default_rbac(
        (
            "deployment-controller",
            "replicaset-controller",
            "daemon-set-controller",
            "job-controller",
            "cronjob-controller",
            "namespace-controller",
            "bootstrap-signer",
            "token-cleaner",
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
    cluster.cluster_role("kubeadm:get-nodes", [rule([""], ["nodes"], ["get"])])
    bootstrappers = group("system:bootstrappers:kubeadm:default-node-token")
    cluster.cluster_role_binding("kubeadm:get-nodes", "kubeadm:get-nodes", [bootstrappers])
    cluster.cluster_role_binding(
        "kubeadm:kubelet-bootstrap", "system:node-bootstrapper", [bootstrappers]
    )
    cluster.cluster_role_binding(
        "kubeadm:cluster-admins", "cluster-admin", [group("kubeadm:cluster-admins")]
    )
