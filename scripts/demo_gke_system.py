"""The GKE-managed parts of demo cluster `payments-prod`: nodes, kube-system, Policy Controller.

Also the cluster's `gke-cluster.json` (what `gcloud container clusters describe` prints).
"""

from __future__ import annotations

from kube_cluster import Cluster
from kube_objects import READ, rule, sa
from kube_pods import RESTRICTED, host_path, http_probe, pinned, resources

NAME = "payments-prod"
PROJECT = "acme-payments-prod"
GKE_VERSION = "1.35.2-gke.1234000"
OLD_POOL_VERSION = "1.33.5-gke.100"


def gke_nodes(cluster: Cluster) -> None:
    for index, pool in enumerate(("pool-a", "pool-a", "pool-a", "pool-b")):
        old = pool == "pool-b"
        name = f"gke-{NAME}-{pool}-{index}"
        zone = f"us-central1-{'abc'[index % 3]}"
        cluster.node(
            name,
            kubelet=f"v{OLD_POOL_VERSION if old else GKE_VERSION}",
            runtime="containerd://2.0.4" if old else "containerd://2.0.6",
            kernel="6.6.72+" if old else "6.6.97+",
            os_image="Container-Optimized OS from Google",
            provider_id=f"gce://{PROJECT}/{zone}/{name}",
            labels={
                "cloud.google.com/gke-boot-disk": "pd-balanced",
                "cloud.google.com/gke-container-runtime": "containerd",
                "cloud.google.com/gke-nodepool": pool,
                "cloud.google.com/gke-os-distribution": "cos",
                "cloud.google.com/gke-netd-ready": "true",
                "cloud.google.com/machine-family": "n2",
                "iam.gke.io/gke-metadata-server-enabled": "true",
                "node.kubernetes.io/instance-type": "n2-standard-4",
                "topology.kubernetes.io/region": "us-central1",
                "topology.kubernetes.io/zone": zone,
            },
            annotations={
                "container.googleapis.com/instance_id": str(4_100_000_000_000_000_000 + index),
                "csi.volume.kubernetes.io/nodeid": (
                    f'{{"pd.csi.storage.gke.io":"projects/{PROJECT}/zones/{zone}/instances/{name}"}}'
                ),
            },
        )


def kube_system(cluster: Cluster) -> None:
    ns = "kube-system"
    for name in ("kube-dns", "anetd", "pdcsi-node-sa", "fluentbit-gke", "metrics-server"):
        cluster.service_account(ns, name)
    gke = "gke.gcr.io"
    dns = cluster.template(
        {"k8s-app": "kube-dns"},
        [
            {
                "name": "kubedns",
                "image": pinned(f"{gke}/k8s-dns-kube-dns", "1.23.0-gke.9"),
                "args": ["--domain=cluster.local.", "--dns-port=10053", "--v=2"],
                "ports": [{"containerPort": 10053, "name": "dns-local", "protocol": "UDP"}],
                "resources": resources("100m", "70Mi", "210Mi"),
                "securityContext": {**RESTRICTED, "runAsUser": 1001, "runAsGroup": 1001},
                "readinessProbe": http_probe(8081, "/readiness"),
            },
            {
                "name": "dnsmasq",
                "image": pinned(f"{gke}/k8s-dns-dnsmasq-nanny", "1.23.0-gke.9"),
                "args": ["-v=2", "-logtostderr", "-restartDnsmasq=true", "--", "-k"],
                "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"}],
                "resources": resources("150m", "20Mi"),
                "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["all"]}},
            },
        ],
        serviceAccountName="kube-dns",
        priorityClassName="system-cluster-critical",
        securityContext={"fsGroup": 65534, "supplementalGroups": [65534]},
        nodeSelector={"kubernetes.io/os": "linux"},
    )
    cluster.deployment(ns, "kube-dns", dns, replicas=2, apply=False)
    metrics = cluster.template(
        {"k8s-app": "metrics-server", "version": "v0.7.2"},
        [
            {
                "name": "metrics-server",
                "image": pinned(f"{gke}/metrics-server", "v0.7.2-gke.11"),
                "command": ["/metrics-server", "--secure-port=10250", "--cert-dir=/tmp"],
                "ports": [{"containerPort": 10250, "name": "https"}],
                "resources": resources("43m", "55Mi"),
                "securityContext": {**RESTRICTED, "runAsUser": 1000, "runAsGroup": 1000},
            }
        ],
        serviceAccountName="metrics-server",
        priorityClassName="system-cluster-critical",
    )
    cluster.deployment(ns, "metrics-server-v0.7.2", metrics, apply=False, revision=2)
    anetd = cluster.template(
        {"k8s-app": "cilium"},
        [
            {
                "name": "cilium-agent",
                "image": pinned(f"{gke}/cilium/cilium", "v1.16.8-gke.1500"),
                "command": ["cilium-agent"],
                "args": ["--config-dir=/tmp/cilium/config-map"],
                "env": [
                    {
                        "name": "K8S_NODE_NAME",
                        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                    }
                ],
                "resources": resources("100m", "250Mi", "1Gi"),
                "securityContext": {"privileged": True},
                "volumeMounts": [
                    {
                        "mountPath": "/sys/fs/bpf",
                        "mountPropagation": "Bidirectional",
                        "name": "bpf-maps",
                    },
                    {"mountPath": "/var/run/cilium", "name": "cilium-run"},
                ],
            }
        ],
        hostNetwork=True,
        serviceAccountName="anetd",
        priorityClassName="system-node-critical",
        tolerations=[{"operator": "Exists"}],
        volumes=[
            host_path("bpf-maps", "/sys/fs/bpf", "DirectoryOrCreate"),
            host_path("cilium-run", "/var/run/cilium", "DirectoryOrCreate"),
        ],
    )
    cluster.daemonset(ns, "anetd", anetd)
    fluentbit = cluster.template(
        {"k8s-app": "fluentbit-gke"},
        [
            {
                "name": "fluentbit",
                "image": pinned(f"{gke}/fluent-bit", "v1.8.15-gke.27"),
                "resources": resources("50m", "100Mi", "250Mi"),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"mountPath": "/var/log", "name": "varlog", "readOnly": True}],
            }
        ],
        serviceAccountName="fluentbit-gke",
        priorityClassName="system-node-critical",
        tolerations=[{"effect": "NoExecute", "operator": "Exists"}],
        volumes=[host_path("varlog", "/var/log")],
    )
    cluster.daemonset(ns, "fluentbit-gke", fluentbit)
    cluster.service(
        ns,
        "kube-dns",
        selector={"k8s-app": "kube-dns"},
        fixed_ip="0.10",
        labels={"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"},
        ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        ],
    )
    cluster.service(
        ns,
        "metrics-server",
        selector={"k8s-app": "metrics-server"},
        ports=[{"name": "https", "port": 443, "targetPort": "https"}],
    )


def policy_controller(cluster: Cluster) -> None:
    ns = "gatekeeper-system"
    cluster.service_account(ns, "gatekeeper-admin")
    manager = cluster.template(
        {"control-plane": "controller-manager", "gatekeeper.sh/operation": "webhook"},
        [
            {
                "name": "manager",
                "image": pinned("gcr.io/config-management-release/gatekeeper", "v3.18.2-gke.1"),
                "args": [
                    "--port=8443",
                    "--logtostderr",
                    "--exempt-namespace=gatekeeper-system",
                    "--operation=webhook",
                    "--operation=mutation-webhook",
                ],
                "ports": [{"containerPort": 8443, "name": "webhook-server"}],
                "resources": resources("100m", "256Mi", "512Mi"),
                "securityContext": {**RESTRICTED, "runAsUser": 1000, "runAsGroup": 999},
            }
        ],
        serviceAccountName="gatekeeper-admin",
        priorityClassName="system-cluster-critical",
    )
    cluster.deployment(ns, "gatekeeper-controller-manager", manager, replicas=3, revision=4)
    cluster.service(
        ns,
        "gatekeeper-webhook-service",
        selector={"control-plane": "controller-manager"},
        ports=[{"name": "https-webhook-server", "port": 443, "targetPort": "webhook-server"}],
    )
    ignore = {
        "matchExpressions": [{"key": "admission.gatekeeper.sh/ignore", "operator": "DoesNotExist"}]
    }
    service = {"name": "gatekeeper-webhook-service", "namespace": ns}
    cluster.webhook_configuration(
        "validatingwebhookconfigurations",
        "gatekeeper-validating-webhook-configuration",
        [
            {
                "name": "validation.gatekeeper.sh",
                "namespaceSelector": ignore,
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["*"],
                        "scope": "*",
                    }
                ],
                "service": {**service, "path": "/v1/admit"},
                "timeoutSeconds": 3,
            }
        ],
    )
    cluster.webhook_configuration(
        "mutatingwebhookconfigurations",
        "gatekeeper-mutating-webhook-configuration",
        [
            {
                "failurePolicy": "Ignore",
                "name": "mutation.gatekeeper.sh",
                "namespaceSelector": ignore,
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["*"],
                        "scope": "*",
                    }
                ],
                "service": {**service, "path": "/v1/mutate"},
                "timeoutSeconds": 1,
            }
        ],
    )
    cluster.webhook_configuration(
        "mutatingwebhookconfigurations",
        "pod-ready.config.common-webhooks.networking.gke.io",
        [
            {
                "failurePolicy": "Ignore",
                "name": "pod-ready.common-webhooks.networking.gke.io",
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                        "scope": "*",
                    }
                ],
                "url": "https://127.0.0.1:9443/pod-ready",
            }
        ],
    )
    for group_name, plural, kind, scope in (
        ("templates.gatekeeper.sh", "constrainttemplates", "ConstraintTemplate", "Cluster"),
        ("config.gatekeeper.sh", "configs", "Config", "Namespaced"),
        (
            "constraints.gatekeeper.sh",
            "k8spspprivilegedcontainer",
            "K8sPSPPrivilegedContainer",
            "Cluster",
        ),
        ("cloud.google.com", "backendconfigs", "BackendConfig", "Namespaced"),
        ("networking.gke.io", "managedcertificates", "ManagedCertificate", "Namespaced"),
    ):
        cluster.crd(group_name, plural, kind, scope=scope)
    cluster.cluster_role(
        "gatekeeper-manager-role",
        [
            rule(
                ["templates.gatekeeper.sh", "constraints.gatekeeper.sh", "config.gatekeeper.sh"],
                ["constrainttemplates", "configs", "k8spspprivilegedcontainer"],
                [*READ, "patch", "update"],
            ),
            rule(
                ["admissionregistration.k8s.io"],
                ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
                [*READ, "patch", "update"],
            ),
            rule([""], ["namespaces", "pods"], READ),
        ],
    )
    cluster.cluster_role_binding(
        "gatekeeper-manager-rolebinding", "gatekeeper-manager-role", [sa(ns, "gatekeeper-admin")]
    )


def gke_cluster() -> dict:
    """`gcloud container clusters describe payments-prod --format=json`: the REST resource,
    camelCase, defaults omitted. Mostly hardened; planted: pool-b (auto-upgrade off, an older
    GKE build, the kubelet read-only port not disabled), no Google Groups for RBAC, no
    security-bulletin notifications, no Confidential nodes."""
    base = f"https://container.googleapis.com/v1/projects/{PROJECT}/locations/us-central1"
    kms = f"projects/{PROJECT}/locations/us-central1/keyRings/gke/cryptoKeys"
    config = {
        "diskSizeGb": 100,
        "diskType": "pd-balanced",
        "imageType": "COS_CONTAINERD",
        "machineType": "n2-standard-4",
        "metadata": {"disable-legacy-endpoints": "true"},
        "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
        "serviceAccount": f"gke-nodes@{PROJECT}.iam.gserviceaccount.com",
        "shieldedInstanceConfig": {"enableIntegrityMonitoring": True, "enableSecureBoot": True},
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "bootDiskKmsKey": f"{kms}/boot",
    }
    pool = {
        "autoscaling": {"enabled": True, "maxNodeCount": 6, "minNodeCount": 1},
        "networkConfig": {"enablePrivateNodes": True, "podRange": "pods"},
        "status": "RUNNING",
        "upgradeSettings": {"maxSurge": 1, "strategy": "SURGE"},
    }
    return {
        "addonsConfig": {
            "gcePersistentDiskCsiDriverConfig": {"enabled": True},
            "httpLoadBalancing": {},
            "kubernetesDashboard": {"disabled": True},
            "networkPolicyConfig": {"disabled": True},
        },
        "anonymousAuthenticationConfig": {"mode": "LIMITED"},
        "binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
        "createTime": "2025-01-14T10:21:07+00:00",
        "currentMasterVersion": GKE_VERSION,
        "currentNodeVersion": OLD_POOL_VERSION,
        "databaseEncryption": {
            "currentState": "CURRENT_STATE_ENCRYPTED",
            "keyName": f"{kms}/etcd",
            "state": "ENCRYPTED",
        },
        "endpoint": "172.16.0.2",
        "initialClusterVersion": "1.31.4-gke.1256000",
        "ipAllocationPolicy": {
            "clusterSecondaryRangeName": "pods",
            "servicesSecondaryRangeName": "services",
            "useIpAliases": True,
        },
        "legacyAbac": {},
        "location": "us-central1",
        "loggingConfig": {
            "componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER"]}
        },
        "loggingService": "logging.googleapis.com/kubernetes",
        "maintenancePolicy": {
            "window": {
                "recurringWindow": {
                    "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU",
                    "window": {
                        "endTime": "2025-01-18T08:00:00Z",
                        "startTime": "2025-01-18T04:00:00Z",
                    },
                }
            }
        },
        "masterAuth": {"clientCertificateConfig": {}},
        "masterAuthorizedNetworksConfig": {
            "cidrBlocks": [{"cidrBlock": "10.0.0.0/8", "displayName": "corp"}],
            "enabled": True,
        },
        "monitoringConfig": {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS"]}},
        "monitoringService": "monitoring.googleapis.com/kubernetes",
        "name": NAME,
        "network": "shared-vpc",
        "networkConfig": {
            "datapathProvider": "ADVANCED_DATAPATH",
            "defaultEnablePrivateNodes": True,
            "enableIntraNodeVisibility": True,
            "network": "projects/acme-net-host/global/networks/shared-vpc",
            "subnetwork": "projects/acme-net-host/regions/us-central1/subnetworks/payments",
        },
        "nodePools": [
            pool
            | {
                "config": config | {"kubeletConfig": {"insecureKubeletReadonlyPortEnabled": False}},
                "initialNodeCount": 3,
                "management": {"autoRepair": True, "autoUpgrade": True},
                "name": "pool-a",
                "selfLink": f"{base}/clusters/{NAME}/nodePools/pool-a",
                "version": GKE_VERSION,
            },
            pool
            | {
                # Held back for the ledger batch jobs (INC-4821): upgrades by hand, and created
                # before the read-only port was turned off on pool-a.
                "config": config,
                "initialNodeCount": 1,
                "management": {"autoRepair": True, "autoUpgrade": False},
                "name": "pool-b",
                "selfLink": f"{base}/clusters/{NAME}/nodePools/pool-b",
                "version": OLD_POOL_VERSION,
            },
        ],
        "privateClusterConfig": {
            "enablePrivateEndpoint": True,
            "enablePrivateNodes": True,
            "masterIpv4CidrBlock": "172.16.0.0/28",
            "privateEndpoint": "172.16.0.2",
        },
        "rbacBindingConfig": {
            "enableInsecureBindingSystemAuthenticated": False,
            "enableInsecureBindingSystemUnauthenticated": False,
        },
        "releaseChannel": {"channel": "REGULAR"},
        "securityPostureConfig": {"mode": "BASIC", "vulnerabilityMode": "VULNERABILITY_BASIC"},
        "selfLink": f"{base}/clusters/{NAME}",
        "shieldedNodes": {"enabled": True},
        "status": "RUNNING",
        "subnetwork": "payments",
        "workloadIdentityConfig": {"workloadPool": f"{PROJECT}.svc.id.goog"},
    }


def gke_upgrade_info() -> dict:
    """`fetchClusterUpgradeInfo` (illustrative): the REGULAR channel's patch target has moved
    past the control plane's build, and GKE's own support window for 1.35."""
    return {
        "autoUpgradeStatus": ["ACTIVE"],
        "endOfExtendedSupportTimestamp": "2027-12-17T00:00:00Z",
        "endOfStandardSupportTimestamp": "2027-02-17T00:00:00Z",
        "minorTargetVersion": "1.35",
        "patchTargetVersion": "1.35.6-gke.1101000",
    }
