"""Network checks: default-deny policies, pods no policy selects, what Services and Ingresses
expose, and an enforcing CNI. The Kubernetes Dashboard checks live in
posture/checks/network_dashboard.py, imported at the bottom so the catalog registers them.

System namespaces (kube-system, kube-public, kube-node-lease) are skipped by the policy checks,
as kube-bench's CIS GKE 4.3.2 audit skips them; exposure checks judge every namespace, since a
Service open to the internet is as open in kube-system as anywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from clusters.inventory import JSON, Inventory
from posture.checks import exposure, netpol, netpol_engines
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.netpol_engines import Engines, Isolation
from posture.checks.netpol_model import Direction
from posture.workloads import WORKLOAD_NEEDS, workloads

NSA_NETWORK = NSA("Network separation")
_SKIPPED = (
    "kube-system, kube-public and kube-node-lease are skipped, as kube-bench's GKE audit does."
)
_ENGINES = (
    " Policies are judged as written; network.cni_policy_support judges whether anything "
    "enforces them. When Cilium or Calico policy kinds are installed but could not be read, the "
    "verdict is unknown: they may isolate or reopen any namespace."
)
_GAPS = "Policy-engine policies could not be read, and may isolate or reopen any namespace: "


def _namespaces(inventory: Inventory) -> list[str]:
    return sorted(
        name
        for ns in inventory.items("namespaces")
        if (name := (ns.get("metadata") or {}).get("name", "")) not in netpol.SYSTEM_NAMESPACES
    )


@check(
    id="network.default_deny_missing",
    title="Namespaces without a default-deny NetworkPolicy",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "Without a policy isolating every pod, any pod (a compromised one included) can reach "
        "every other pod in the cluster. Default deny means a NetworkPolicy with podSelector {} "
        "and policyType Ingress whose rules do not reopen all traffic, or the same from a policy "
        "engine: a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy selecting every pod with "
        "an ingress section, or a Calico NetworkPolicy or GlobalNetworkPolicy selecting every pod "
        "that no earlier rule allows everything through. Any engine's rule allowing all ingress "
        "undoes it; each finding says which engine's policy isolates or reopens, and whether "
        "egress is denied by default, which NSA/CISA recommend too. " + _SKIPPED + _ENGINES
    ),
    remediation=(
        "Add a NetworkPolicy named default-deny with podSelector: {} and policyTypes: [Ingress, "
        "Egress] (or the engine's equivalent), then allow the flows each workload needs with "
        "narrower policies."
    ),
    needs=("namespaces", *netpol_engines.POLICY_KEYS),
    references=(
        CIS("5.3.2", title="Ensure that all Namespaces have Network Policies defined"),
        CIS_GKE("4.3.2"),
        GKE("F3", title="Restrict Pod-to-Pod traffic"),
        NSA_NETWORK,
    ),
)
def default_deny_missing(inventory: Inventory, context: CheckContext) -> Outcome:
    return _default_deny_outcome(inventory, "Ingress", _with_egress)


def _with_egress(engines: Engines, namespace: str, ingress: Isolation) -> str:
    egress = engines.namespace(namespace, "Egress")
    if egress.isolated:
        return f"{ingress.reason}; egress is denied by default by {egress.by}"
    return f"{ingress.reason}; " + ("nor egress" if egress.isolated is False else egress.reason)


@check(
    id="network.default_deny_egress_missing",
    title="Namespaces without default-deny egress",
    area=Area.NETWORK,
    severity=Severity.LOW,
    rationale=(
        "Egress isolation keeps a compromised pod from reaching the metadata server, the API or "
        "the internet (to fetch tools or mine). NSA/CISA recommend default deny for egress as "
        "well as ingress: podSelector {} with policyType Egress, or a Cilium or Calico policy "
        "isolating every pod's egress. " + _SKIPPED + _ENGINES
    ),
    remediation="Add Egress to the default-deny policy's policyTypes; allow DNS and needed flows.",
    needs=("namespaces", *netpol_engines.POLICY_KEYS),
    references=(NSA_NETWORK, CIS("5.3.2"), GKE("F3")),
)
def default_deny_egress_missing(inventory: Inventory, context: CheckContext) -> Outcome:
    return _default_deny_outcome(inventory, "Egress", lambda _, namespace, egress: egress.reason)


def _default_deny_outcome(
    inventory: Inventory,
    direction: Direction,
    detail: Callable[[Engines, str, Isolation], str],
) -> Outcome:
    """Fail the namespaces no engine isolates; unknown where one cannot be judged."""
    if gaps := netpol_engines.gaps(inventory):
        return Outcome.unknown(_GAPS + "; ".join(gaps))
    engines = netpol_engines.engines(inventory)
    word = direction.lower()
    affected: list[Affected] = []
    unknown: list[str] = []
    isolated_by: list[str] = []
    for namespace in _namespaces(inventory):
        isolation = engines.namespace(namespace, direction)
        if isolation.isolated is None:
            unknown.append(f"{namespace}: {isolation.reason}")
        elif isolation.isolated:
            isolated_by.append(isolation.by)
        else:
            detail_text = detail(engines, namespace, isolation)
            affected.append(Affected("Namespace", "", namespace, detail_text))
    not_judged = f" Not judged: {'; '.join(unknown)}." if unknown else ""
    if affected:
        return Outcome.failed(
            affected, f"{len(affected)} namespace(s) without default-deny {word}.{not_judged}"
        )
    if unknown:
        return Outcome.unknown(f"No namespace lacks default-deny {word}, but{not_judged}")
    return Outcome.passed(f"Every namespace denies {word} by default{_tally(isolated_by)}.")


def _tally(policies: list[str]) -> str:
    """The kinds of policy that decided, e.g. ` (NetworkPolicy in 3, CiliumNetworkPolicy in 1)`."""
    kinds = Counter(policy.rpartition(" ")[0] for policy in policies)
    return (
        f" ({', '.join(f'{kind} in {count}' for kind, count in kinds.most_common())})"
        if kinds
        else ""
    )


@check(
    id="network.pods_unselected",
    title="Workloads no NetworkPolicy selects",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "A pod no NetworkPolicy selects accepts traffic from everywhere, whatever policies its "
        "namespace has for other pods. Selection is judged on each workload's pod template "
        "labels with full label-selector semantics (matchLabels and matchExpressions), and "
        "counts a Cilium policy that puts the pods in default deny or a default-tier Calico "
        "policy that applies to them (Calico selector syntax, namespaceSelector included). "
        "hostNetwork pods are skipped: NetworkPolicy does not apply to them. " + _SKIPPED + _ENGINES
    ),
    remediation="Add a default-deny policy to the namespace, or a policy selecting these pods.",
    needs=netpol_engines.POLICY_KEYS,
    evidence=WORKLOAD_NEEDS,
    references=(CIS("5.3.2"), CIS_GKE("4.3.2"), NSA_NETWORK),
)
def pods_unselected(inventory: Inventory, context: CheckContext) -> Outcome:
    if gaps := netpol_engines.gaps(inventory):
        return Outcome.unknown(_GAPS + "; ".join(gaps))
    engines = netpol_engines.engines(inventory)
    affected: list[Affected] = []
    unknown = 0
    for workload in workloads(inventory):
        if workload.namespace in netpol.SYSTEM_NAMESPACES or workload.pod_spec.get("hostNetwork"):
            continue
        coverage = engines.workload(workload)
        if coverage.selected is None:
            unknown += 1
        elif not coverage.selected:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(workload.labels.items()))
            detail = f"no {engines.kinds} selects its pods (labels: {labels or 'none'})"
            affected.append(Affected(workload.kind, workload.namespace, workload.name, detail))
    not_judged = (
        f" {unknown} workload(s) not judged: a policy selector depends on labels not collected."
        if unknown
        else ""
    )
    if affected:
        return Outcome.failed(
            affected, f"{len(affected)} workload(s) no {engines.kinds} selects.{not_judged}"
        )
    if unknown:
        return Outcome.unknown(f"No workload is certainly unselected, but{not_judged}")
    return Outcome.passed(f"Every workload is selected by a {engines.kinds}.")


@check(
    id="network.exposed_services",
    title="Services exposed outside the cluster",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "A LoadBalancer Service is reachable from wherever its load balancer is, the internet "
        "by default; a NodePort Service listens on every node. Each one is attack surface to "
        "keep deliberate. Internal load balancers (GKE, AWS and Azure internal annotations) are "
        "left out: only the VPC reaches them. Each finding lists ports and source ranges."
    ),
    remediation=(
        "Use ClusterIP behind an Ingress or Gateway where possible; otherwise restrict "
        "loadBalancerSourceRanges, or make the load balancer internal."
    ),
    evidence=("services",),
    references=(NSA_NETWORK, GKE("B1", title="Least-privilege VPC firewall rules")),
)
def exposed_services(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        Affected(
            "Service",
            _meta(s).get("namespace", ""),
            _meta(s).get("name", ""),
            exposure.describe_exposure(s),
        )
        for s in inventory.items("services")
        if exposure.is_external(s)
    ]
    return Outcome.from_affected(
        affected,
        passed="No LoadBalancer or NodePort Service.",
        failed="{count} Service(s) exposed outside the cluster.",
    )


@check(
    id="network.external_ips",
    title="Services with externalIPs (CVE-2020-8554)",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "Whoever can create a Service with spec.externalIPs can intercept cluster traffic to "
        "those addresses (CVE-2020-8554, no fix in Kubernetes itself). The "
        "DenyServiceExternalIPs admission controller blocks the field; any Service using it "
        "shows the controller is off."
    ),
    remediation=(
        "Remove spec.externalIPs (use a LoadBalancer), and enable DenyServiceExternalIPs "
        "(GKE: --no-enable-service-externalips)."
    ),
    evidence=("services",),
    references=(GKE("K3", title="Leave DenyServiceExternalIPs enabled"),),
)
def external_ips(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        Affected(
            "Service",
            _meta(s).get("namespace", ""),
            _meta(s).get("name", ""),
            f"externalIPs: {', '.join(ips)}",
        )
        for s in inventory.items("services")
        if (ips := (s.get("spec") or {}).get("externalIPs"))
    ]
    return Outcome.from_affected(
        affected,
        passed="No Service sets externalIPs.",
        failed="{count} Service(s) set externalIPs.",
    )


# Annotations through which a cloud load balancer terminates TLS without spec.tls.
_MANAGED_TLS_ANNOTATIONS = (
    "networking.gke.io/managed-certificates",
    "ingress.gcp.kubernetes.io/pre-shared-cert",
    "alb.ingress.kubernetes.io/certificate-arn",
)


def _host_covered(host: str, tls_hosts: set[str]) -> bool:
    if host in tls_hosts:
        return True
    # A wildcard certificate covers exactly one leading label.
    _, _, parent = host.partition(".")
    return bool(parent) and f"*.{parent}" in tls_hosts


@check(
    id="network.ingress_tls",
    title="Ingresses without TLS",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "An Ingress host without TLS sends credentials and session cookies in clear text across "
        "the internet. A host counts as covered when a spec.tls entry lists it (or a wildcard "
        "for it, or the entry lists no hosts), or when a provider annotation attaches a "
        "certificate (GKE managed or pre-shared certificates, AWS ALB certificate-arn)."
    ),
    remediation="Add a spec.tls entry for every host, e.g. with cert-manager or GKE managed certs.",
    evidence=("ingresses",),
    references=(
        NSA("Encryption", title="TLS everywhere"),
        CIS_GKE("5.6.7", title="Use Google-managed SSL certificates"),
        GKE("L14"),
    ),
)
def ingress_tls(inventory: Inventory, context: CheckContext) -> Outcome:
    affected: list[Affected] = []
    for ingress in inventory.items("ingresses"):
        meta, spec = _meta(ingress), ingress.get("spec") or {}
        annotations = meta.get("annotations") or {}
        tls = spec.get("tls") or []
        if any(annotations.get(a) for a in _MANAGED_TLS_ANNOTATIONS):
            continue
        if any(not entry.get("hosts") for entry in tls):
            continue
        tls_hosts = {host for entry in tls for host in entry.get("hosts") or []}
        hosts = sorted({rule.get("host") or "*" for rule in spec.get("rules") or []} or {"*"})
        uncovered = [h for h in hosts if not _host_covered(h, tls_hosts)]
        if uncovered:
            shown = ", ".join("any host" if h == "*" else h for h in uncovered)
            affected.append(
                Affected(
                    "Ingress",
                    meta.get("namespace", ""),
                    meta.get("name", ""),
                    f"no TLS for {shown}",
                )
            )
    return Outcome.from_affected(
        affected,
        passed="Every Ingress host has TLS.",
        failed="{count} Ingress(es) serve hosts without TLS.",
    )


# kubescape C-0021's default sensitive interfaces, matched as it does: workload name contains.
# kubernetes-dashboard is left to the dashboard checks, which identify it by image.
SENSITIVE_INTERFACES = (
    "nifi",
    "argo-server",
    "weave-scope-app",
    "kubeflow",
    "jenkins",
    "prometheus-deployment",
    "ollama",
    "vllm",
    "kserve",
    "triton-inference-server",
    "ray-dashboard",
    "ray-head",
    "mlflow",
    "jupyterhub",
    "seldon",
    "bentoml",
)


@check(
    id="network.sensitive_interfaces_exposed",
    title="Sensitive interfaces exposed outside the cluster",
    area=Area.NETWORK,
    severity=Severity.HIGH,
    rationale=(
        "Build servers, notebooks, workflow engines and model servers run code or hold "
        "credentials by design; reachable from outside, one weak login is a foothold. The list "
        "is kubescape C-0021's (a workload whose name contains jenkins, argo-server, jupyterhub, "
        "ollama, ...) behind a LoadBalancer or NodePort Service that selects its pods; the "
        "Kubernetes Dashboard is judged by the network.dashboard_* checks."
    ),
    remediation=(
        "Put the interface behind ClusterIP and an authenticating proxy or VPN, or restrict "
        "loadBalancerSourceRanges to the admins' networks."
    ),
    evidence=(*WORKLOAD_NEEDS, "services"),
    references=(NSA_NETWORK, NSA("Authentication & authorization")),
)
def sensitive_interfaces_exposed(inventory: Inventory, context: CheckContext) -> Outcome:
    external = [s for s in inventory.items("services") if exposure.is_external(s)]
    affected: list[Affected] = []
    for workload in workloads(inventory):
        interface = next((n for n in SENSITIVE_INTERFACES if n in workload.name), None)
        if interface is None:
            continue
        for service in external:
            if exposure.selects(service, workload):
                detail = (
                    f"exposes {interface} ({workload.kind} {workload.name}) via "
                    f"{exposure.describe_exposure(service)}"
                )
                meta = _meta(service)
                affected.append(
                    Affected("Service", meta.get("namespace", ""), meta.get("name", ""), detail)
                )
    return Outcome.from_affected(
        affected,
        passed="No sensitive interface is exposed.",
        failed="{count} sensitive interface(s) exposed.",
    )


@check(
    id="network.cni_policy_support",
    title="No NetworkPolicy-enforcing network plugin detected",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "The API accepts NetworkPolicies whether or not anything enforces them; without an "
        "enforcing CNI every policy is silently void. Detection is a heuristic: a DaemonSet "
        "named calico-node, cilium, anetd (GKE Dataplane V2), antrea-agent, weave-net, "
        "kube-router or canal, or GKE provider data saying enforcement is on. A renamed or "
        "unlisted plugin fails here and should be waived with a note. Cilium or Calico policy "
        "CRDs are not taken as evidence: CRDs outlive an uninstalled engine (Helm leaves them) "
        "and policies are stored whether or not anything enforces them; the finding names them."
    ),
    remediation=(
        "Install a policy-enforcing CNI, or on GKE enable Dataplane V2 or network policy "
        "enforcement (--enable-network-policy)."
    ),
    needs=("daemonsets",),
    references=(
        CIS("5.3.1", title="Ensure that the CNI in use supports NetworkPolicies"),
        CIS_GKE("4.3.1"),
        GKE("F3"),
    ),
)
def cni_policy_support(inventory: Inventory, context: CheckContext) -> Outcome:
    provider = netpol.provider_enforces_policy(inventory.provider)
    if provider:
        return Outcome.passed(f"Enforced by {provider}.")
    found = netpol.policy_capable_cni(inventory)
    if found:
        return Outcome.passed(f"Policy-enforcing CNI DaemonSet(s): {', '.join(found)}.")
    detail = (
        "heuristic: no DaemonSet named "
        + ", ".join(netpol.POLICY_CAPABLE_DAEMONSETS)
        + "; NetworkPolicies may not be enforced"
    )
    if installed := netpol_engines.installed_engines(inventory):
        detail += (
            f"; {' and '.join(installed)} policy CRDs are installed, but that does not show the "
            "engine runs (CRDs outlive it): look for its agent under another name"
        )
    return Outcome.failed(
        [Affected("Cluster", "", "network-plugin", detail)],
        "No NetworkPolicy-enforcing CNI detected (heuristic).",
    )


def _meta(obj: JSON) -> JSON:
    return obj.get("metadata") or {}


# Registers the Kubernetes Dashboard checks with these; the catalog imports this module only.
