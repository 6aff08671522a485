"""GKE provider checks of cluster operations (hardening.md §1 J3-J5, L4, L10, L15).

Logging and monitoring, the security posture dashboard and workload vulnerability scanning,
security-bulletin notifications, Binary Authorization, alpha clusters and Autopilot mode.
"""

from __future__ import annotations

from clusters.inventory import JSON, Inventory
from posture.checks.base import Area, CheckContext, Outcome, Severity
from posture.checks.guides import CIS_GKE, GKE
from posture.checks.provider_fields import ABSENT, at, fact, observed
from posture.checks.provider_gke import (
    cluster_failed,
    controls_outcome,
    gke_check,
    gke_cluster,
    is_autopilot,
)

BINAUTHZ_ENFORCING = (
    "PROJECT_SINGLETON_POLICY_ENFORCE",
    "POLICY_BINDINGS",
    "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE",
)
POSTURE_MODES = ("BASIC", "ENTERPRISE")
VULNERABILITY_MODES = ("VULNERABILITY_BASIC", "VULNERABILITY_ENTERPRISE")


def binary_authorization_enforces(cluster: JSON) -> str | None:
    """The field that says Binary Authorization enforces a policy, None when none does."""
    mode = at(cluster, "binaryAuthorization.evaluationMode")
    if mode in BINAUTHZ_ENFORCING:
        return fact("binaryAuthorization.evaluationMode", mode)
    if mode is ABSENT and at(cluster, "binaryAuthorization.enabled") is True:
        return fact("binaryAuthorization.enabled", True) + " (deprecated field)"
    return None


@gke_check(
    id="provider.gke_binary_authorization",
    title="Binary Authorization does not enforce an image policy",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "Binary Authorization admits only images that satisfy the project's policy (signed by "
        "your pipeline, from your registries); without it any image a deployer names runs, "
        "back-doored Docker Hub images included."
    ),
    remediation=(
        "gcloud container clusters update NAME "
        "--binauthz-evaluation-mode=PROJECT_SINGLETON_POLICY_ENFORCE, with a policy that "
        "requires attestations."
    ),
    references=(GKE("L4"), CIS_GKE("5.1.4"), CIS_GKE("4.5.1")),
)
def binary_authorization(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    enforcing = binary_authorization_enforces(cluster)
    if enforcing:
        return Outcome.passed(enforcing)
    mode = at(cluster, "binaryAuthorization.evaluationMode")
    return cluster_failed(
        cluster,
        observed("binaryAuthorization.evaluationMode", mode, " or ".join(BINAUTHZ_ENFORCING)),
    )


def _components(cluster: JSON, kind: str) -> Outcome:
    """Logging or monitoring: the legacy service is not `none`, and the component config (when
    the cluster has one) includes the system components."""
    service_path = f"{kind}Service"
    service = at(cluster, service_path)
    components_path = f"{kind}Config.componentConfig.enableComponents"
    components = at(cluster, components_path)
    if service == "none" or (service is ABSENT and components is ABSENT):
        return cluster_failed(
            cluster, observed(service_path, service, f'"{kind}.googleapis.com/kubernetes"')
        )
    if components is not ABSENT and (
        not isinstance(components, list) or "SYSTEM_COMPONENTS" not in components
    ):
        return cluster_failed(
            cluster, observed(components_path, components, 'a list including "SYSTEM_COMPONENTS"')
        )
    evidence = [fact(service_path, service)] if service is not ABSENT else []
    if components is not ABSENT:
        evidence.append(fact(components_path, components))
    return Outcome.passed("; ".join(evidence))


@gke_check(
    id="provider.gke_logging_monitoring",
    title="Cloud Logging or Cloud Monitoring is off",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "Without system logs and metrics in Cloud Logging and Monitoring, node and "
        "control-plane events of an incident are gone with the nodes that saw them. "
        "(Kubernetes audit logs always flow to Cloud Logging.)"
    ),
    remediation=(
        "gcloud container clusters update NAME --logging=SYSTEM,WORKLOAD --monitoring=SYSTEM"
    ),
    references=(GKE("J5"), CIS_GKE("5.7.1")),
)
def logging_monitoring(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    return controls_outcome(
        {
            "logging": _components(cluster, "logging"),
            "monitoring": _components(cluster, "monitoring"),
        },
        cluster,
    )


@gke_check(
    id="provider.gke_security_posture",
    title="The GKE security posture dashboard or vulnerability scanning is off",
    area=Area.SUPPLY_CHAIN,
    severity=Severity.MEDIUM,
    rationale=(
        "The security posture dashboard audits workload configurations and, with workload "
        "vulnerability scanning, reports known CVEs in the images that run."
    ),
    remediation=(
        "gcloud container clusters update NAME --security-posture=standard "
        "--workload-vulnerability-scanning=standard"
    ),
    references=(GKE("J4"),),
)
def security_posture(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    mode = at(cluster, "securityPostureConfig.mode")
    scanning = at(cluster, "securityPostureConfig.vulnerabilityMode")
    posture = (
        Outcome.passed(fact("securityPostureConfig.mode", mode))
        if mode in POSTURE_MODES
        else cluster_failed(
            cluster, observed("securityPostureConfig.mode", mode, " or ".join(POSTURE_MODES))
        )
    )
    vulnerabilities = (
        Outcome.passed(fact("securityPostureConfig.vulnerabilityMode", scanning))
        if scanning in VULNERABILITY_MODES
        else cluster_failed(
            cluster,
            observed(
                "securityPostureConfig.vulnerabilityMode",
                scanning,
                " or ".join(VULNERABILITY_MODES),
            ),
        )
    )
    return controls_outcome(
        {"posture": posture, "vulnerability_scanning": vulnerabilities}, cluster
    )


@gke_check(
    id="provider.gke_security_bulletins",
    title="Security bulletins are not sent to Pub/Sub",
    area=Area.PATCHING,
    severity=Severity.LOW,
    rationale=(
        "Cluster notifications deliver GKE security bulletins for this cluster's versions as "
        "they are published, with the patched versions to upgrade to."
    ),
    remediation=(
        "gcloud container clusters update NAME --notification-config=pubsub=ENABLED,"
        "pubsub-topic=projects/P/topics/T (filter empty or including SecurityBulletinEvent)"
    ),
    references=(GKE("J3"),),
)
def security_bulletins(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    base = "notificationConfig.pubsub"
    problems = []
    if at(cluster, f"{base}.enabled") is not True:
        problems.append(observed(f"{base}.enabled", at(cluster, f"{base}.enabled"), "true"))
    topic = at(cluster, f"{base}.topic")
    if not isinstance(topic, str) or not topic:
        problems.append(observed(f"{base}.topic", topic, "a Pub/Sub topic"))
    events = at(cluster, f"{base}.filter.eventType")
    if isinstance(events, list) and events and "SECURITY_BULLETIN_EVENT" not in events:
        problems.append(
            observed(
                f"{base}.filter.eventType", events, 'empty or including "SECURITY_BULLETIN_EVENT"'
            )
        )
    if problems:
        return cluster_failed(cluster, "; ".join(problems))
    return Outcome.passed(
        f"{fact(f'{base}.topic', topic)}; {fact(f'{base}.filter.eventType', events)}"
    )


@gke_check(
    id="provider.gke_alpha_cluster",
    title="The cluster is an alpha cluster",
    area=Area.PATCHING,
    severity=Severity.MEDIUM,
    rationale=(
        "Alpha clusters run unsupported alpha features, are never upgraded and expire after "
        "30 days: they are not for production workloads."
    ),
    remediation="Recreate the workloads on a cluster without --enable-kubernetes-alpha.",
    references=(GKE("L10"), CIS_GKE("5.10.2")),
)
def alpha_cluster(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    value = at(cluster, "enableKubernetesAlpha")
    if value is True:
        return cluster_failed(cluster, observed("enableKubernetesAlpha", value, "false or absent"))
    return Outcome.passed(fact("enableKubernetesAlpha", value))


@gke_check(
    id="provider.gke_autopilot",
    title="Autopilot mode (informational)",
    area=Area.ISOLATION,
    severity=Severity.INFO,
    rationale=(
        "Autopilot enforces Workload Identity, Shielded nodes with secure boot, COS, release "
        "channels and node auto-upgrade, and forbids ABAC and legacy client authentication, "
        "so those settings cannot drift. A consideration, not a requirement: a Standard "
        "cluster's settings are judged one by one by the other GKE checks."
    ),
    remediation="Consider Autopilot for new clusters (gcloud container clusters create-auto).",
    references=(GKE("L15"),),
)
def autopilot(inventory: Inventory, context: CheckContext) -> Outcome:
    cluster = gke_cluster(inventory)
    if is_autopilot(cluster):
        return Outcome.passed(fact("autopilot.enabled", True))
    return Outcome.not_applicable(
        f"{fact('autopilot.enabled', at(cluster, 'autopilot.enabled'))}: a Standard cluster, "
        "whose Google-managed-on-Autopilot settings the other GKE checks judge one by one",
        settled=True,
    )
