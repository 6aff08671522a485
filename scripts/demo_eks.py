"""Demo cluster `orders-eks`: an EKS cluster with provider data, partly hardened.

Hardened: Secrets envelope-encrypted with a KMS key, private endpoint access on, node groups
on AL2023 (one legacy group aside), Pod Security Admission labels, a default-deny policy in
`orders`. Planted in `eks-cluster.json` (DescribeCluster + node groups) and
`eks-cluster-versions.json` (DescribeClusterVersions): see `PLANTED` and EXPECTED.json.
"""

from __future__ import annotations

from demo_kubeadm import coredns, kube_proxy
from kube_cluster import Cluster, DemoCluster, version_body
from kube_objects import group
from kube_pods import POD_RESTRICTED, RESTRICTED, env, http_probe, pinned, resources

NAME = "orders-eks"
ACCOUNT = "111122223333"
REGION = "eu-west-1"
VERSION = "v1.33.5-eks-3025e55"
LEGACY_VERSION = "v1.32.9-eks-113cf36"
ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{NAME}"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
# Where EKS add-on images come from in this region.
KMS_KEY = "4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8d"
EKS_REGISTRY = f"602401143452.dkr.ecr.{REGION}.amazonaws.com"
PSA = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
GROUPS = (
    # (node group, AMI type, Kubernetes version, AMI release, OS image, nodes)
    (
        "general",
        "AL2023_x86_64_STANDARD",
        "1.33",
        "1.33.5-20251112",
        "Amazon Linux 2023.9.20251110",
        2,
    ),
    ("legacy", "AL2_x86_64", "1.32", "1.32.9-20251016", "Amazon Linux 2", 1),
)
PLANTED = [
    "`resourcesVpcConfig.endpointPublicAccess` is true with `publicAccessCidrs` "
    '["0.0.0.0/0"]: the API endpoint is open to the internet.',
    "Control-plane log export enables `api` only: no `audit` or `authenticator` logs.",
    "`accessConfig.authenticationMode` is `API_AND_CONFIG_MAP`: the aws-auth ConfigMap is "
    "still honoured beside access entries.",
    "Kubernetes 1.33 is in EKS extended support (DescribeClusterVersions `versionStatus`), "
    "out of standard support.",
    "Node group `legacy` runs the `AL2_x86_64` AMI type (end of support 2025-11-26) and "
    "Kubernetes 1.32, one minor behind the control plane.",
    "Namespace `batch` has workloads and no NetworkPolicy.",
]


def _nodes(cluster: Cluster) -> None:
    index = 0
    for group_name, ami, minor, _release, os_image, count in GROUPS:
        kubelet = VERSION if minor == "1.33" else LEGACY_VERSION
        for _ in range(count):
            name = f"ip-10-42-{index + 1}-{17 + index * 9}.{REGION}.compute.internal"
            zone = f"{REGION}{'abc'[index % 3]}"
            cluster.node(
                name,
                kubelet=kubelet,
                runtime="containerd://2.1.4" if minor == "1.33" else "containerd://1.7.27",
                kernel="6.1.155-176.282.amzn2023.x86_64"
                if ami.startswith("AL2023")
                else "5.10.244-240.965.amzn2.x86_64",
                os_image=os_image,
                provider_id=f"aws:///{zone}/i-0{index + 1:02d}a1b2c3d4e5f6071",
                labels={
                    "eks.amazonaws.com/capacityType": "ON_DEMAND",
                    "eks.amazonaws.com/nodegroup": group_name,
                    "eks.amazonaws.com/nodegroup-image": f"ami-0{index:02d}9f8e7d6c5b4a3921",
                    "node.kubernetes.io/instance-type": "m7i.xlarge",
                    "topology.kubernetes.io/region": REGION,
                    "topology.kubernetes.io/zone": zone,
                },
            )
            index += 1


def _vpc_cni(cluster: Cluster) -> None:
    cluster.service_account("kube-system", "aws-node")
    template = cluster.template(
        {"k8s-app": "aws-node"},
        [
            {
                "name": "aws-node",
                "image": f"{EKS_REGISTRY}/amazon-k8s-cni:v1.20.4-eksbuild.1",
                "env": env(ENABLE_POD_ENI="false", NETWORK_POLICY_ENFORCING_MODE="standard"),
                "ports": [{"containerPort": 61678, "name": "metrics"}],
                "resources": resources("25m", "64Mi"),
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
            },
            {
                "name": "aws-eks-nodeagent",
                "image": f"{EKS_REGISTRY}/amazon/aws-network-policy-agent:v1.2.7-eksbuild.1",
                "args": ["--enable-network-policy=true", "--enable-ipv6=false"],
                "resources": resources("25m", "64Mi"),
                "securityContext": {"privileged": True},
            },
        ],
        hostNetwork=True,
        serviceAccountName="aws-node",
        priorityClassName="system-node-critical",
        tolerations=[{"operator": "Exists"}],
    )
    cluster.daemonset("kube-system", "aws-node", template)


def _app(cluster: Cluster, ns: str, name: str, tag: str, port: int) -> dict:
    container = {
        "name": name,
        "image": pinned(f"{REGISTRY}/{name}", tag),
        "env": env(AWS_REGION=REGION, PORT=str(port)),
        "ports": [{"containerPort": port, "name": "http"}],
        "readinessProbe": http_probe("http", "/healthz"),
        "resources": resources("200m", "256Mi", "512Mi"),
        "securityContext": dict(RESTRICTED),
    }
    return cluster.template(
        {"app.kubernetes.io/name": name},
        [container],
        serviceAccountName=name,
        securityContext=dict(POD_RESTRICTED),
        automountServiceAccountToken=False,
    )


def _apps(cluster: Cluster) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role"
    for ns, name in (("orders", "orders-api"), ("orders", "orders-worker"), ("batch", "invoicer")):
        cluster.service_account(ns, name, {"eks.amazonaws.com/role-arn": f"{role}/{name}"})
    cluster.deployment(
        "orders",
        "orders-api",
        _app(cluster, "orders", "orders-api", "3.4.1", 8080),
        replicas=3,
        revision=5,
    )
    cluster.deployment(
        "orders",
        "orders-worker",
        _app(cluster, "orders", "orders-worker", "3.4.1", 8081),
        replicas=2,
        revision=5,
    )
    cluster.cronjob(
        "batch",
        "invoicer",
        _app(cluster, "batch", "invoicer", "1.9.0", 8080),
        schedule="30 1 * * *",
        last_run="2026-11-25T01:30:00Z",
    )
    cluster.default_deny("orders")
    cluster.service(
        "orders",
        "orders-api",
        selector={"app.kubernetes.io/name": "orders-api"},
        ports=[{"name": "http", "port": 80, "targetPort": 8080}],
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
    cluster.cluster_role_binding("platform-view", "view", [group("orders-platform")])
    for ns in ("orders", "batch"):
        cluster.role_binding(
            ns, "orders-developers", "ClusterRole", "edit", [group("orders-developers")]
        )


def eks_cluster() -> dict:
    """`describe_cluster`'s cluster with its managed node groups (the eks-cluster.json shape)."""
    nodegroups = [
        {
            "nodegroupName": name,
            "nodegroupArn": (
                f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/{NAME}/{name}/"
                f"{index}a5c8e0f-1b2c-4d3e-8f90-0a1b2c3d4e5f"
            ),
            "clusterName": NAME,
            "version": minor,
            "releaseVersion": release,
            "createdAt": "2025-06-10T08:00:00+00:00",
            "modifiedAt": "2026-11-14T09:30:00+00:00",
            "status": "ACTIVE",
            "capacityType": "ON_DEMAND",
            "scalingConfig": {"minSize": count, "maxSize": count * 3, "desiredSize": count},
            "instanceTypes": ["m7i.xlarge"],
            "subnets": [f"subnet-0{REGION[-1]}a1b2c3d4e5f6070{i}" for i in (1, 2, 3)],
            "amiType": ami,
            "nodeRole": f"arn:aws:iam::{ACCOUNT}:role/{NAME}-nodes",
            "labels": {"workload": name},
            "health": {"issues": []},
            "updateConfig": {"maxUnavailable": 1},
        }
        for index, (name, ami, minor, release, _, count) in enumerate(GROUPS)
    ]
    return {
        "name": NAME,
        "arn": ARN,
        "createdAt": "2025-06-10T07:41:12.330000+00:00",
        "version": "1.33",
        "endpoint": "https://0A1B2C3D4E5F60718293A4B5C6D7E8F9.gr7.eu-west-1.eks.amazonaws.com",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{NAME}-cluster",
        "resourcesVpcConfig": {
            "subnetIds": [f"subnet-0{REGION[-1]}a1b2c3d4e5f6070{i}" for i in (1, 2, 3)],
            "securityGroupIds": [],
            "clusterSecurityGroupId": "sg-0c1d2e3f4a5b6c7d8",
            "vpcId": "vpc-0f1e2d3c4b5a69788",
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
        "logging": {
            "clusterLogging": [
                {"types": ["api"], "enabled": True},
                {
                    "types": ["audit", "authenticator", "controllerManager", "scheduler"],
                    "enabled": False,
                },
            ]
        },
        "identity": {
            "oidc": {
                "issuer": f"https://oidc.eks.{REGION}.amazonaws.com/id/0A1B2C3D4E5F60718293A4B5C6D7E8F9"
            }
        },
        "status": "ACTIVE",
        "platformVersion": "eks.22",
        "tags": {"team": "orders", "environment": "production"},
        "encryptionConfig": [
            {
                "resources": ["secrets"],
                "provider": {"keyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KMS_KEY}"},
            }
        ],
        "accessConfig": {
            "bootstrapClusterCreatorAdminPermissions": False,
            "authenticationMode": "API_AND_CONFIG_MAP",
        },
        "upgradePolicy": {"supportType": "EXTENDED"},
        "nodegroups": nodegroups,
    }


def eks_cluster_versions() -> dict:
    """`describe_cluster_versions --cluster-versions 1.33` (illustrative dates)."""
    return {
        "clusterVersions": [
            {
                "clusterVersion": "1.33",
                "clusterType": "eks",
                "defaultPlatformVersion": "eks.22",
                "defaultVersion": False,
                "releaseDate": "2025-05-29T00:00:00+00:00",
                "endOfStandardSupportDate": "2026-07-29T00:00:00+00:00",
                "endOfExtendedSupportDate": "2027-07-29T00:00:00+00:00",
                "status": "EXTENDED_SUPPORT",
                "versionStatus": "EXTENDED_SUPPORT",
                "kubernetesPatchVersion": "1.33.5",
            }
        ]
    }


def build_eks() -> DemoCluster:
    cluster = Cluster(
        NAME,
        created="2025-06-10T07:41:12Z",
        collected="2026-11-25T14:10:00Z",
        pod_cidr="10.42",
        svc_cidr="172.20",
    )
    _nodes(cluster)
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        cluster.namespace(ns)
    cluster.namespace("orders", PSA, automount=False)
    cluster.namespace("batch", PSA, automount=False)
    cluster.service(
        "default",
        "kubernetes",
        selector=None,
        fixed_ip="0.1",
        labels={"component": "apiserver", "provider": "kubernetes"},
        ports=[{"name": "https", "port": 443, "targetPort": 443}],
    )
    coredns(cluster, version="v1.12.4")
    kube_proxy(cluster, VERSION.split("-")[0])
    _vpc_cni(cluster)
    _apps(cluster)
    _rbac(cluster)
    cluster.finish()
    legacy = [_ref("NodeGroup", "", "legacy")]
    return DemoCluster(
        cluster=cluster,
        version=version_body(VERSION, build_date="2025-10-21T22:12:30Z", go="go1.24.6"),
        description=(
            f"EKS production cluster `{VERSION}` in {REGION}, three nodes in two managed node "
            "groups, with its DescribeCluster description and EKS's own version calendar in "
            "the bundle: Secrets encrypted with KMS, Pod Security Admission `restricted`, "
            "images from ECR pinned by digest; the API endpoint open to the internet."
        ),
        planted=PLANTED,
        expected={
            "fail": {
                "provider.eks_public_endpoint": [_ref("Cluster", "", NAME)],
                "provider.eks_control_plane_logging": [_ref("Cluster", "", NAME)],
                "provider.eks_authentication_mode": [_ref("Cluster", "", NAME)],
                "provider.eks_version_support": [_ref("Cluster", "", NAME)],
                "provider.eks_nodegroup_ami": legacy,
                "provider.eks_nodegroup_versions": legacy,
                "network.default_deny_missing": [_ref("Namespace", "", "batch")],
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
            "eks-cluster.json": eks_cluster(),
            "eks-cluster-versions.json": eks_cluster_versions(),
        },
    )


def _ref(kind: str, namespace: str, name: str) -> dict[str, str]:
    return {"kind": kind, "namespace": namespace, "name": name}
