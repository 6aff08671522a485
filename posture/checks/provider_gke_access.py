"""GKE provider checks of authentication, authorization and identity (hardening.md §1 C, E, K).

Legacy ABAC, basic auth and client certificates, anonymous access, insecure RBAC bindings,
Google Groups for RBAC, Workload Identity and the metadata server, node service accounts and
access scopes, the kubelet read-only port, and Secrets envelope encryption: each from the
Cluster resource, with the field path and value as the evidence.
"""

from __future__ import annotations

from clusters.inventory import Inventory
from posture.checks.base import Area, CheckContext, Outcome, Severity
from posture.checks.guides import CIS_GKE, GKE
from posture.checks.provider_fields import ABSENT, at, fact, observed, truthy
from posture.checks.provider_gke import (
    Pool,
    autopilot_owned,
    cluster_failed,
    cluster_project,
    controls_outcome,
    gke_check,
    gke_cluster,
    judge_pools,
)
from posture.status import Status

COMPUTE_DEFAULT_SA = "-compute@developer.gserviceaccount.com"
# Scopes that, with the Compute default service account, let any pod act on the project
# (hardening.md L9; the 1.10 change removed compute-rw from the default scopes).
BROAD_SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/compute",
)


@gke_check(
    id="provider.gke_legacy_abac",
    title="Legacy ABAC authorization is enabled",
    area=Area.ACCESS,
    severity=Severity.CRITICAL,
    rationale=(
        "Legacy ABAC grants broad static permissions that RBAC cannot narrow: any "
        "authenticated identity may get near-admin rights. GKE disabled it by default in 1.8."
    ),
    remediation="gcloud container clusters update NAME --no-enable-legacy-authorization",
    references=(GKE("K2"), CIS_GKE("5.8.3")),
)
def legacy_abac(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    if owned := autopilot_owned(cluster, "authorization (ABAC cannot be enabled)"):
        return owned
    value = at(cluster, "legacyAbac.enabled")
    if value is True:
        return cluster_failed(cluster, observed("legacyAbac.enabled", value, "false or absent"))
    return Outcome.passed(fact("legacyAbac.enabled", value))


@gke_check(
    id="provider.gke_basic_auth",
    title="A static password (basic auth) is set on the API server",
    area=Area.ACCESS,
    severity=Severity.CRITICAL,
    rationale=(
        "A static username and password never expire, are not tied to a person and, on "
        "clusters that issued them, authenticate as cluster-admin from anywhere that can reach "
        "the endpoint."
    ),
    remediation=(
        "Remove the static password (gcloud container clusters update NAME "
        "--no-enable-basic-auth on the versions that still allow it, else recreate)."
    ),
    references=(GKE("K1"),),
)
def basic_auth(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    if owned := autopilot_owned(cluster, "client authentication (basic auth cannot be set)"):
        return owned
    set_fields = [
        observed(
            f"masterAuth.{name}", "<set>" if at(cluster, f"masterAuth.{name}") else "", "empty"
        )
        for name in ("username", "password")
        if at(cluster, f"masterAuth.{name}") not in (ABSENT, "", None)
    ]
    if set_fields:
        return cluster_failed(cluster, "; ".join(set_fields))
    return Outcome.passed("masterAuth.username and masterAuth.password are absent")


@gke_check(
    id="provider.gke_client_certificate",
    title="A client certificate is issued for the API server",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "A client certificate issued at creation cannot be revoked short of rotating the "
        "cluster's credentials, and whoever holds it authenticates as it for years."
    ),
    remediation=(
        "Create clusters with --no-issue-client-certificate; for an issued one, rotate the "
        "cluster credentials (gcloud container clusters update NAME --start-credential-rotation)."
    ),
    references=(GKE("K1"), CIS_GKE("5.8.1")),
)
def client_certificate(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    if owned := autopilot_owned(cluster, "client authentication (no client certificate)"):
        return owned
    issue = at(cluster, "masterAuth.clientCertificateConfig.issueClientCertificate")
    problems = []
    if issue is True:
        problems.append(
            observed("masterAuth.clientCertificateConfig.issueClientCertificate", issue, "false")
        )
    for name in ("clientCertificate", "clientKey"):
        if at(cluster, f"masterAuth.{name}") not in (ABSENT, "", None):
            problems.append(f"masterAuth.{name} is set (expected empty)")
    if problems:
        return cluster_failed(cluster, "; ".join(problems))
    return Outcome.passed(
        fact("masterAuth.clientCertificateConfig.issueClientCertificate", issue)
        + "; no client certificate or key"
    )


@gke_check(
    id="provider.gke_anonymous_authentication",
    title="Anonymous requests reach more than the health endpoints",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "With anonymous authentication ENABLED, one mistaken binding to system:anonymous or "
        "system:unauthenticated opens the API to the internet; LIMITED lets anonymous requests "
        "reach only /healthz, /livez and /readyz."
    ),
    remediation=(
        "gcloud container clusters update NAME --anonymous-authentication-config=LIMITED "
        "(GKE 1.32.2-gke.1234000 and later)."
    ),
    references=(GKE("E6"),),
)
def anonymous_authentication(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    mode = at(cluster, "anonymousAuthenticationConfig.mode")
    if mode == "LIMITED":
        return Outcome.passed(fact("anonymousAuthenticationConfig.mode", mode))
    return cluster_failed(
        cluster, observed("anonymousAuthenticationConfig.mode", mode, '"LIMITED"')
    )


@gke_check(
    id="provider.gke_insecure_rbac_bindings",
    title="GKE does not block bindings to system:anonymous and system:authenticated",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "Without the RBAC binding restrictions, a single RoleBinding to system:unauthenticated, "
        "system:anonymous or system:authenticated (every Google account) grants its role to "
        "the internet; GKE can refuse such bindings at admission."
    ),
    remediation=(
        "gcloud container clusters update NAME --no-enable-insecure-binding-system-authenticated "
        "--no-enable-insecure-binding-system-unauthenticated (GKE 1.30.1-gke.1283000 and later)."
    ),
    references=(GKE("L13"),),
)
def insecure_rbac_bindings(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    paths = (
        "rbacBindingConfig.enableInsecureBindingSystemAuthenticated",
        "rbacBindingConfig.enableInsecureBindingSystemUnauthenticated",
    )
    wrong = [
        observed(path, at(cluster, path), "false")
        for path in paths
        if at(cluster, path) is not False
    ]
    if wrong:
        return cluster_failed(cluster, "; ".join(wrong))
    return Outcome.passed("; ".join(fact(path, False) for path in paths))


@gke_check(
    id="provider.gke_google_groups_rbac",
    title="Google Groups for RBAC is off",
    area=Area.ACCESS,
    severity=Severity.LOW,
    rationale=(
        "Without Google Groups for RBAC, access is granted to individual accounts, which "
        "outlive the people's roles and are reviewed one by one."
    ),
    remediation=(
        "gcloud container clusters update NAME --security-group=gke-security-groups@DOMAIN, "
        "and bind Roles to groups."
    ),
    references=(GKE("E5"), CIS_GKE("5.8.2")),
)
def google_groups_rbac(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    enabled = at(cluster, "authenticatorGroupsConfig.enabled")
    group = at(cluster, "authenticatorGroupsConfig.securityGroup")
    if enabled is True and isinstance(group, str) and group.startswith("gke-security-groups@"):
        return Outcome.passed(
            f"{fact('authenticatorGroupsConfig.enabled', enabled)}; "
            f"{fact('authenticatorGroupsConfig.securityGroup', group)}"
        )
    return cluster_failed(
        cluster,
        f"{observed('authenticatorGroupsConfig.enabled', enabled, 'true')}; "
        + observed(
            "authenticatorGroupsConfig.securityGroup", group, '"gke-security-groups@<domain>"'
        ),
    )


@gke_check(
    id="provider.gke_workload_identity",
    title="Workload Identity is off, or node pools expose the Compute metadata server",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "Without Workload Identity every pod can read the node's service-account token from "
        "the metadata server and act as the node on Google APIs; the GKE metadata server gives "
        "each Kubernetes ServiceAccount its own Google identity instead."
    ),
    remediation=(
        "gcloud container clusters update NAME --workload-pool=PROJECT.svc.id.goog, then "
        "gcloud container node-pools update POOL --workload-metadata=GKE_METADATA per pool."
    ),
    references=(GKE("E4"),),
)
def workload_identity(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    if owned := autopilot_owned(cluster, "Workload Identity (always on)"):
        return owned
    pool_path = "workloadIdentityConfig.workloadPool"
    workload_pool = at(cluster, pool_path)
    project = cluster_project(cluster)
    expected_pool = f"{project}.svc.id.goog" if project else "<project>.svc.id.goog"
    if (
        isinstance(workload_pool, str)
        and workload_pool.endswith(".svc.id.goog")
        and (not project or workload_pool == expected_pool)
    ):
        pool_control = Outcome.passed(fact(pool_path, workload_pool))
    else:
        pool_control = cluster_failed(
            cluster, observed(pool_path, workload_pool, f'"{expected_pool}"')
        )

    def metadata(pool: Pool) -> str | None:
        if pool.defaults:
            return None  # NAP pools take the cluster's workload metadata setting
        mode = pool.value("config.workloadMetadataConfig.mode")
        legacy = pool.value("config.workloadMetadataConfig.nodeMetadata")
        if mode == "GKE_METADATA" or legacy == "GKE_METADATA_SERVER":
            return ""
        return observed(pool.field("config.workloadMetadataConfig.mode"), mode, '"GKE_METADATA"')

    metadata_control = judge_pools(
        cluster,
        metadata,
        passed="every node pool serves the GKE metadata server (workloadMetadataConfig.mode = "
        '"GKE_METADATA")',
        failed="Compute Engine metadata server exposed to pods",
    )
    return controls_outcome(
        {"workload_pool": pool_control, "metadata_server": metadata_control}, cluster
    )


@gke_check(
    id="provider.gke_metadata_protection",
    title="Node pools expose the legacy metadata endpoints",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "The legacy (v0.1, v1beta1) metadata endpoints answer without the Metadata-Flavor "
        "header, so a server-side request forgery in any pod reads the node's credentials and "
        "kubelet bootstrap secrets."
    ),
    remediation=(
        "Run node pools with the GKE metadata server (--workload-metadata=GKE_METADATA) or at "
        "least metadata disable-legacy-endpoints=true (recreate the pool)."
    ),
    references=(GKE("L2"),),
)
def metadata_protection(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    if owned := autopilot_owned(cluster, "node metadata (the GKE metadata server is always on)"):
        return owned

    def judge(pool: Pool) -> str | None:
        if pool.defaults:
            return None
        legacy = pool.value("config.workloadMetadataConfig.nodeMetadata")
        if legacy == "EXPOSE":
            return observed(
                pool.field("config.workloadMetadataConfig.nodeMetadata"), legacy, '"SECURE"'
            )
        if pool.value("config.workloadMetadataConfig.mode") == "GKE_METADATA" or legacy in (
            "SECURE",
            "GKE_METADATA_SERVER",
        ):
            return ""
        flag = (pool.value("config.metadata") or {}).get("disable-legacy-endpoints", ABSENT)
        if flag == "true":
            return ""
        return observed(
            pool.field('config.metadata["disable-legacy-endpoints"]'),
            flag,
            '"true" (or workloadMetadataConfig.mode "GKE_METADATA")',
        )

    return judge_pools(
        cluster,
        judge,
        passed="every node pool conceals the legacy metadata endpoints",
        failed="Legacy metadata endpoints exposed",
    )


def _default_account(pool: Pool) -> bool:
    account = pool.value("config.serviceAccount")
    return account in (ABSENT, "", "default") or (
        isinstance(account, str) and account.endswith(COMPUTE_DEFAULT_SA)
    )


@gke_check(
    id="provider.gke_node_service_account",
    title="Node pools run as the Compute Engine default service account",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "The Compute Engine default service account holds Editor on the project by default: "
        "with broad access scopes, any pod that reaches the metadata server can act on the "
        "whole project. Nodes need only roles/container.defaultNodeServiceAccount."
    ),
    remediation=(
        "Create node pools with --service-account=a least-privilege account (roles/"
        "container.defaultNodeServiceAccount) and minimal scopes; set the NAP defaults too."
    ),
    references=(GKE("C1"), GKE("L9")),
)
def node_service_account(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)

    def account(pool: Pool) -> str | None:
        if _default_account(pool):
            return observed(
                pool.field("config.serviceAccount"),
                pool.value("config.serviceAccount"),
                "a dedicated service account, not the Compute Engine default",
            )
        return ""

    def scopes(pool: Pool) -> str | None:
        granted = pool.value("config.oauthScopes")
        broad = [s for s in granted if s in BROAD_SCOPES] if isinstance(granted, list) else []
        if broad and _default_account(pool):
            return (
                f"{pool.field('config.oauthScopes')} includes {', '.join(broad)} with the "
                "Compute Engine default service account (expected the logging, monitoring and "
                "devstorage.read_only scopes)"
            )
        return ""

    return controls_outcome(
        {
            "service_account": judge_pools(
                cluster,
                account,
                passed="every node pool runs as a dedicated service account",
                failed="Compute Engine default service account",
            ),
            "access_scopes": judge_pools(
                cluster,
                scopes,
                passed="no node pool gives the default service account broad scopes",
                failed="Broad scopes with the default service account",
            ),
        },
        cluster,
    )


@gke_check(
    id="provider.gke_kubelet_readonly_port",
    title="The kubelet read-only port 10255 is not disabled",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "The read-only port serves pod specs, environment variables and node details without "
        "authentication to anything that reaches the node."
    ),
    remediation=(
        "gcloud container clusters update NAME --no-autoprovisioning-enable-insecure-kubelet-"
        "readonly-port and gcloud container node-pools update POOL "
        "--no-enable-insecure-kubelet-readonly-port."
    ),
    references=(GKE("D2"),),
)
def kubelet_readonly_port(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    default_path = "nodePoolDefaults.nodeConfigDefaults.nodeKubeletConfig"
    if truthy(cluster, "autopilot.enabled"):
        default_path = "nodePoolAutoConfig.nodeKubeletConfig"
    default = at(cluster, f"{default_path}.insecureKubeletReadonlyPortEnabled")
    expected = f"false (or {default_path}.insecureKubeletReadonlyPortEnabled = false)"

    def judge(pool: Pool) -> str | None:
        if pool.defaults:
            value = pool.value("insecureKubeletReadonlyPortEnabled")
            field = pool.field("insecureKubeletReadonlyPortEnabled")
        else:
            value = pool.value("config.kubeletConfig.insecureKubeletReadonlyPortEnabled")
            field = pool.field("config.kubeletConfig.insecureKubeletReadonlyPortEnabled")
        if value is False or (value is ABSENT and default is False):
            return ""
        return observed(field, value, expected)

    outcome = judge_pools(
        cluster,
        judge,
        passed="the read-only port is disabled on every node pool",
        failed="Kubelet read-only port not disabled",
    )
    if outcome.status == Status.NOT_APPLICABLE and default is not False:
        return cluster_failed(
            cluster,
            observed(f"{default_path}.insecureKubeletReadonlyPortEnabled", default, "false"),
        )
    return outcome


@gke_check(
    id="provider.gke_secrets_encryption",
    title="Secrets are not envelope-encrypted with a Cloud KMS key",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "Application-layer encryption wraps each Secret's key with a Cloud KMS key you control, "
        "so a copy of etcd or its backups does not yield the Secrets, and revoking the key "
        "revokes them."
    ),
    remediation=(
        "gcloud container clusters update NAME --database-encryption-key="
        "projects/P/locations/L/keyRings/R/cryptoKeys/K"
    ),
    references=(GKE("G3"), CIS_GKE("5.3.1")),
)
def secrets_encryption(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    state = at(cluster, "databaseEncryption.state")
    key = at(cluster, "databaseEncryption.keyName")
    current = at(cluster, "databaseEncryption.currentState")
    problems = []
    if state != "ENCRYPTED":
        problems.append(observed("databaseEncryption.state", state, '"ENCRYPTED"'))
    if not isinstance(key, str) or not key:
        problems.append(observed("databaseEncryption.keyName", key, "a Cloud KMS key"))
    if current is not ABSENT and current != "CURRENT_STATE_ENCRYPTED":
        problems.append(
            observed("databaseEncryption.currentState", current, '"CURRENT_STATE_ENCRYPTED"')
        )
    if problems:
        return cluster_failed(cluster, "; ".join(problems))
    return Outcome.passed(
        f"{fact('databaseEncryption.state', state)} with {fact('databaseEncryption.keyName', key)}"
    )
