"""GKE provider checks of network exposure (hardening.md §1 B, F, K3, L1, L8, L11).

The control-plane endpoint (DNS-only, no public IP, or authorized networks), private nodes,
DenyServiceExternalIPs, intranode visibility, VPC-native addressing, Shared VPC and the
Dashboard add-on. NetworkPolicy enforcement (F3) is network.cni_policy_support, which reads the
same provider data and falls back to the CNI's DaemonSets.
"""

from __future__ import annotations

from clusters.inventory import Inventory
from posture.checks.base import Area, CheckContext, Outcome, Severity
from posture.checks.guides import CIS_GKE, GKE
from posture.checks.provider_fields import ABSENT, at, fact, observed, said, truthy
from posture.checks.provider_gke import (
    Pool,
    cluster_failed,
    cluster_project,
    controls_outcome,
    gke_check,
    gke_cluster,
    judge_pools,
)
from posture.status import Status

IP_ENDPOINTS = "controlPlaneEndpointsConfig.ipEndpointsConfig"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _no_public_ip(cluster: dict) -> tuple[bool, str]:
    """(True, evidence) when the control plane has no public IP endpoint (or no IP at all)."""
    if at(cluster, f"{IP_ENDPOINTS}.enabled") is False:
        return True, f"{IP_ENDPOINTS}.enabled = false: DNS-based endpoint only"
    if at(cluster, f"{IP_ENDPOINTS}.enablePublicEndpoint") is False:
        return True, fact(f"{IP_ENDPOINTS}.enablePublicEndpoint", False)
    if truthy(cluster, "privateClusterConfig.enablePrivateEndpoint"):
        return True, fact("privateClusterConfig.enablePrivateEndpoint", True)
    public = at(cluster, "privateClusterConfig.publicEndpoint")
    if public is ABSENT:
        public = at(cluster, "endpoint")
    return False, (
        said(cluster, "privateClusterConfig.enablePrivateEndpoint", "true")
        + " and "
        + said(cluster, f"{IP_ENDPOINTS}.enablePublicEndpoint", "false")
        + f": the control plane answers on public IP {shown_address(public)}"
    )


def shown_address(value: object) -> str:
    return str(value) if isinstance(value, str) and value else "(address not in the data)"


def _authorized_networks(cluster: dict) -> Outcome:
    if at(cluster, f"{IP_ENDPOINTS}.enabled") is False:
        return Outcome.not_applicable(
            f"{IP_ENDPOINTS}.enabled = false: no IP endpoint for authorized networks to guard"
        )
    config_path = "masterAuthorizedNetworksConfig"
    config = at(cluster, config_path)
    if not isinstance(config, dict) or not config.get("enabled"):
        mirrored = at(cluster, f"{IP_ENDPOINTS}.authorizedNetworksConfig")
        if isinstance(mirrored, dict) and mirrored.get("enabled"):
            config_path, config = f"{IP_ENDPOINTS}.authorizedNetworksConfig", mirrored
    if not isinstance(config, dict) or config.get("enabled") is not True:
        return cluster_failed(
            cluster,
            observed(f"{config_path}.enabled", at(cluster, f"{config_path}.enabled"), "true"),
        )
    blocks = [
        str(block.get("cidrBlock"))
        for block in config.get("cidrBlocks") or []
        if isinstance(block, dict)
    ]
    problems = []
    if open_blocks := [block for block in blocks if block in OPEN_CIDRS]:
        problems.append(f"{config_path}.cidrBlocks[].cidrBlock includes {', '.join(open_blocks)}")
    if config.get("gcpPublicCidrsAccessEnabled") is True:
        problems.append(
            observed(f"{config_path}.gcpPublicCidrsAccessEnabled", True, "false")
            + ": every Google Cloud public address may connect"
        )
    if problems:
        return cluster_failed(cluster, "; ".join(problems))
    shown_blocks = ", ".join(blocks) or "(none: private access only)"
    return Outcome.passed(f"{config_path}.enabled = true, cidrBlocks {shown_blocks}")


@gke_check(
    id="provider.gke_control_plane_access",
    title="The control plane's public endpoint is open to the internet",
    area=Area.NETWORK,
    severity=Severity.CRITICAL,
    rationale=(
        "A control plane reachable from any address is one leaked credential, or one "
        "unauthenticated API bug, away from takeover. Prefer the DNS-based endpoint alone, "
        "else no public IP endpoint, else authorized networks that exclude 0.0.0.0/0."
    ),
    remediation=(
        "gcloud container clusters update NAME --enable-master-authorized-networks "
        "--master-authorized-networks=CIDR,... (or --enable-private-endpoint, or "
        "--enable-dns-access --no-enable-ip-access)."
    ),
    references=(GKE("F1"),),
)
def control_plane_access(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    private, evidence = _no_public_ip(cluster)
    endpoint = Outcome.passed(evidence) if private else cluster_failed(cluster, evidence)
    networks = _authorized_networks(cluster)
    controls = {"private_endpoint": endpoint, "authorized_networks": networks}
    # F1 is a ladder: no public IP endpoint, or authorized networks guarding it, passes.
    if endpoint.status == Status.PASS or networks.status == Status.PASS:
        guard = endpoint if endpoint.status == Status.PASS else networks
        outcome = Outcome.passed(guard.summary)
        outcome.controls = controls
        return outcome
    return controls_outcome(controls, cluster)


@gke_check(
    id="provider.gke_private_nodes",
    title="Node pools give nodes public IP addresses",
    area=Area.NETWORK,
    severity=Severity.HIGH,
    rationale=(
        "Nodes with external IPs are reachable from the internet on every port a firewall rule "
        "or a hostPort leaves open; private nodes reach out through Cloud NAT only."
    ),
    remediation=(
        "Create node pools with --enable-private-nodes (or the cluster with "
        "--enable-private-nodes) and give them egress through Cloud NAT."
    ),
    references=(GKE("F2"), CIS_GKE("5.6.5")),
)
def private_nodes(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    legacy = at(cluster, "privateClusterConfig.enablePrivateNodes")
    default = at(cluster, "networkConfig.defaultEnablePrivateNodes")
    cluster_private = legacy is True or default is True

    def judge(pool: Pool) -> str | None:
        if pool.defaults:
            return None
        own = pool.value("networkConfig.enablePrivateNodes")
        if own is True or (own is ABSENT and cluster_private):
            return ""
        if own is False:
            return observed(pool.field("networkConfig.enablePrivateNodes"), own, "true")
        return (
            f"{observed('privateClusterConfig.enablePrivateNodes', legacy, 'true')}, "
            f"{observed('networkConfig.defaultEnablePrivateNodes', default, 'true')} and "
            f"{pool.field('networkConfig.enablePrivateNodes')} absent"
        )

    return judge_pools(
        cluster,
        judge,
        passed="every node pool has private nodes",
        failed="Nodes with public IP addresses",
    )


@gke_check(
    id="provider.gke_service_external_ips",
    title="Services may claim arbitrary external IPs (DenyServiceExternalIPs off)",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "A Service with spec.externalIPs intercepts traffic to any address it names "
        "(CVE-2020-8554); GKE blocks the field unless serviceExternalIpsConfig is enabled."
    ),
    remediation="gcloud container clusters update NAME --no-enable-service-externalips",
    references=(GKE("K3"),),
)
def service_external_ips(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    path = "networkConfig.serviceExternalIpsConfig.enabled"
    value = at(cluster, path)
    if value is True:
        return cluster_failed(cluster, observed(path, value, "false or absent"))
    return Outcome.passed(fact(path, value))


@gke_check(
    id="provider.gke_intranode_visibility",
    title="Intranode visibility is off",
    area=Area.NETWORK,
    severity=Severity.LOW,
    rationale=(
        "Without intranode visibility, traffic between pods on one node never crosses the VPC, "
        "so VPC flow logs and firewall rules do not see it. (VPC flow logs themselves are a "
        "subnet setting outside the Cluster resource.)"
    ),
    remediation="gcloud container clusters update NAME --enable-intra-node-visibility",
    references=(GKE("L11"), CIS_GKE("5.6.1")),
)
def intranode_visibility(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    path = "networkConfig.enableIntraNodeVisibility"
    value = at(cluster, path)
    if value is True:
        return Outcome.passed(fact(path, value))
    return cluster_failed(cluster, observed(path, value, "true"))


@gke_check(
    id="provider.gke_vpc_native",
    title="The cluster is not VPC-native (alias IPs off)",
    area=Area.NETWORK,
    severity=Severity.LOW,
    rationale=(
        "Routes-based clusters give pods addresses the VPC cannot tell apart by firewall rule, "
        "and cannot use private clusters or several security features that need alias IPs."
    ),
    remediation="Recreate the cluster with --enable-ip-alias (it cannot be changed in place).",
    references=(GKE("L8"), CIS_GKE("5.6.2")),
)
def vpc_native(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    path = "ipAllocationPolicy.useIpAliases"
    value = at(cluster, path)
    if value is True:
        return Outcome.passed(fact(path, value))
    return cluster_failed(cluster, observed(path, value, "true"))


@gke_check(
    id="provider.gke_shared_vpc",
    title="The cluster's network is not a Shared VPC",
    area=Area.NETWORK,
    severity=Severity.INFO,
    rationale=(
        "In a Shared VPC the network, its firewall rules and routes are owned by a host project "
        "that cluster admins cannot change: a separation of duties the guide recommends for "
        "cross-project traffic."
    ),
    remediation="Create clusters in subnets shared from a host project.",
    references=(GKE("B2"),),
)
def shared_vpc(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    path = "networkConfig.network"
    network = at(cluster, path)
    project = cluster_project(cluster)
    if not isinstance(network, str) or "projects/" not in network or not project:
        return Outcome.unknown(
            f"{fact(path, network)}, selfLink project {project or 'unknown'}: cannot tell the "
            "network's host project"
        )
    host = network.split("projects/", 1)[1].split("/", 1)[0]
    if host != project:
        return Outcome.passed(f"{fact(path, network)}: host project {host}, cluster in {project}")
    return cluster_failed(
        cluster, f"{fact(path, network)}: the network is in the cluster's own project {project}"
    )


@gke_check(
    id="provider.gke_dashboard_addon",
    title="The Kubernetes Dashboard add-on is enabled",
    area=Area.NETWORK,
    severity=Severity.HIGH,
    rationale=(
        "The GKE Dashboard add-on ran with a highly privileged service account; exposed "
        "dashboards were how clusters leaked cloud credentials in 2018. It is deprecated and "
        "disabled from GKE 1.15."
    ),
    remediation=(
        "gcloud container clusters update NAME --update-addons=KubernetesDashboard=DISABLED"
    ),
    references=(GKE("L1"), CIS_GKE("5.10.1")),
)
def dashboard_addon(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    addon = at(cluster, "addonsConfig.kubernetesDashboard")
    path = "addonsConfig.kubernetesDashboard.disabled"
    if addon is ABSENT or at(cluster, path) is True:
        return Outcome.passed(fact(path, at(cluster, path)))
    return cluster_failed(cluster, observed(path, at(cluster, path), "true or absent"))
