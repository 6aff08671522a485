"""Kubernetes Dashboard checks: deployed, exposed, logins skipped, running as admin.

The 2018 story behind Rampart: tens of thousands of dashboards on the internet, hundreds open
without credentials and acting with an admin ServiceAccount. Grading follows hardening.md §6.1:
present and internal is Medium, exposed or admin is High, exposed with a way in for anyone or an
admin identity behind it is Critical. `posture.checks.network` imports this module so its checks
are registered with the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.inventory import Inventory
from posture.checks import exposure
from posture.checks.base import Affected, Area, CheckContext, Outcome, Severity, check
from posture.checks.dashboard import DashboardPart, dashboard_parts, risky_flags
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.rbac import RBAC_NEEDS, Power, rbac_index
from posture.workloads import WORKLOAD_NEEDS

DASHBOARD_GUIDE = GKE("L1", title="Disable the Kubernetes web UI (Dashboard)")
DASHBOARD_CIS_GKE = CIS_GKE("5.10.1", title="Ensure Kubernetes Web UI is Disabled")
_IDENTIFIED = (
    " A dashboard is identified by image (kubernetes-dashboard-amd64 for v1, "
    "kubernetesui/dashboard for v2, kubernetesui/dashboard-api/-auth/-web for the v7 Helm chart, "
    "with its Kong gateway) or by the k8s-app=kubernetes-dashboard pod label."
)
# Flags that let anyone in, or carry tokens over plain HTTP: the Critical combination.
_OPEN_FLAGS = ("--enable-skip-login", "--enable-insecure-login")


@dataclass(frozen=True)
class Exposure:
    kind: str  # Service | Ingress
    namespace: str
    name: str
    part: DashboardPart
    how: str

    def affected(self, detail: str) -> Affected:
        return Affected(self.kind, self.namespace, self.name, detail)

    def describe(self) -> str:
        workload = self.part.workload
        return (
            f"exposes Kubernetes Dashboard {self.part.generation} "
            f"({workload.kind} {workload.name}) via {self.how}"
        )


def _exposures(inventory: Inventory, parts: list[DashboardPart]) -> list[Exposure]:
    services = inventory.items("services")
    ingresses = inventory.items("ingresses")
    found: list[Exposure] = []
    for part in parts:
        selecting = [s for s in services if exposure.selects(s, part.workload)]
        for service in selecting:
            if exposure.is_external(service):
                meta = service.get("metadata") or {}
                how = exposure.describe_exposure(service)
                name = meta.get("name", "")
                found.append(Exposure("Service", part.workload.namespace, name, part, how))
        names = {(s.get("metadata") or {}).get("name", "") for s in selecting}
        for ingress in ingresses:
            meta = ingress.get("metadata") or {}
            if meta.get("namespace", "") != part.workload.namespace:
                continue
            routed = sorted(exposure.ingress_service_names(ingress) & names)
            if routed:
                how = f"Ingress to Service {', '.join(routed)}"
                found.append(
                    Exposure("Ingress", meta["namespace"], meta.get("name", ""), part, how)
                )
    return found


def _admin_grants(inventory: Inventory, part: DashboardPart) -> list[tuple[Affected, str]]:
    """Bindings that make the part's ServiceAccount admin-equivalent: (finding, short reason)."""
    index = rbac_index(inventory)
    account = (part.workload.namespace, part.service_account)
    found: list[tuple[Affected, str]] = []
    for binding in index.bindings:
        if not any(subject.service_account == account for subject in binding.subjects):
            continue
        power, _ = index.grade(binding)
        # A wildcard rule that reaches secrets, pods or nodes is what the 2018 installs used
        # instead of cluster-admin; it is as bad behind a dashboard.
        wildcard = power >= Power.SENSITIVE and any(
            r.wildcard_fields for r in index.rules_of(binding)
        )
        if power < Power.ADMIN and not wildcard:
            continue
        role = index.describe_role(binding)
        where = "" if binding.kind == "ClusterRoleBinding" else f" in namespace {binding.namespace}"
        detail = (
            f"grants {role}{where} to ServiceAccount {account[0]}/{account[1]}, which runs "
            f"{part.describe()} ({part.workload.kind} {part.workload.name})"
        )
        held = "admin-equivalent" if power == Power.ADMIN else f"given wildcard {binding.role}"
        reason = f"its ServiceAccount is {held} via {binding.kind} {binding.name}"
        found.append((binding.affected(detail), reason))
    return found


@check(
    id="network.dashboard_deployed",
    title="Kubernetes Dashboard deployed",
    area=Area.NETWORK,
    severity=Severity.MEDIUM,
    rationale=(
        "The Dashboard is a web UI that acts on the cluster with its own or its users' tokens; "
        "GKE stopped deploying it in 2017-2019 and the project was archived in January 2026, so "
        "an install is unmaintained attack surface even when internal." + _IDENTIFIED
    ),
    remediation=(
        "Remove it (helm uninstall, or delete its namespace/manifests); use kubectl, the cloud "
        "console, or a maintained UI such as Headlamp with per-user authentication."
    ),
    evidence=WORKLOAD_NEEDS,
    references=(DASHBOARD_GUIDE, DASHBOARD_CIS_GKE, NSA("Upgrading & application security")),
)
def dashboard_deployed(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        Affected(p.workload.kind, p.workload.namespace, p.workload.name, p.describe())
        for p in dashboard_parts(inventory)
    ]
    return Outcome.from_affected(
        affected, passed="No Kubernetes Dashboard found.", failed="Kubernetes Dashboard found."
    )


@check(
    id="network.dashboard_exposed",
    title="Kubernetes Dashboard reachable from outside the cluster",
    area=Area.NETWORK,
    severity=Severity.HIGH,
    rationale=(
        "A Dashboard behind a LoadBalancer or NodePort Service, or routed to by an Ingress, is "
        "a login page (or no login at all) for the whole cluster on the network: the 2018 "
        "incidents. Internal load balancers are not counted." + _IDENTIFIED
    ),
    remediation=(
        "Change the Service to ClusterIP and delete the Ingress; reach the dashboard with "
        "kubectl port-forward, or better, remove it."
    ),
    evidence=(*WORKLOAD_NEEDS, "services", "ingresses"),
    references=(DASHBOARD_GUIDE, DASHBOARD_CIS_GKE, NSA("Network separation")),
)
def dashboard_exposed(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [e.affected(e.describe()) for e in _exposures(inventory, dashboard_parts(inventory))]
    return Outcome.from_affected(
        affected,
        passed="No Kubernetes Dashboard is exposed.",
        failed="Kubernetes Dashboard exposed by {count} object(s).",
    )


@check(
    id="network.dashboard_exposed_unsafe",
    title="Exposed Kubernetes Dashboard that lets anyone in or acts as admin",
    area=Area.NETWORK,
    severity=Severity.CRITICAL,
    rationale=(
        "Exposed, and either --enable-skip-login (anyone clicks Skip and acts with the "
        "dashboard's ServiceAccount), --enable-insecure-login (tokens over plain HTTP), or a "
        "ServiceAccount bound to cluster-admin or a wildcard role: the path from the internet "
        "to cluster-admin and the cloud credentials on the nodes. Flags and ServiceAccounts of "
        "every dashboard component in the exposed one's namespace count." + _IDENTIFIED
    ),
    remediation=(
        "Take it off the network first (ClusterIP, delete the Ingress), then remove the "
        "flags and the admin binding, or the dashboard."
    ),
    evidence=(*WORKLOAD_NEEDS, "services", "ingresses", *RBAC_NEEDS),
    references=(DASHBOARD_GUIDE, DASHBOARD_CIS_GKE, CIS("5.1.1")),
)
def dashboard_exposed_unsafe(inventory: Inventory, context: CheckContext) -> Outcome:
    parts = dashboard_parts(inventory)
    reasons_by_namespace: dict[str, list[str]] = {}
    for part in parts:
        reasons = reasons_by_namespace.setdefault(part.workload.namespace, [])
        reasons.extend(f for f in risky_flags(part) if f in _OPEN_FLAGS)
        reasons.extend(reason for _, reason in _admin_grants(inventory, part))
    affected: list[Affected] = []
    for found in _exposures(inventory, parts):
        reasons = sorted(set(reasons_by_namespace.get(found.namespace, [])))
        if reasons:
            affected.append(found.affected(f"{found.describe()}; {'; '.join(reasons)}"))
    return Outcome.from_affected(
        affected,
        passed="No exposed dashboard skips logins or runs as admin.",
        failed="Exposed dashboard open to anyone or running as admin.",
    )


@check(
    id="network.dashboard_skip_login",
    title="Kubernetes Dashboard with risky login settings",
    area=Area.NETWORK,
    severity=Severity.HIGH,
    rationale=(
        "--enable-skip-login lets anyone use the UI with the dashboard's own ServiceAccount; "
        "--enable-insecure-login accepts tokens over HTTP; --disable-settings-authorizer lets "
        "any user change global settings; --authentication-mode=basic sends passwords; an "
        "--insecure-bind-address off loopback or container port 9090 serves the UI without "
        "TLS." + _IDENTIFIED
    ),
    remediation="Remove these arguments from the dashboard's container; keep token login over TLS.",
    evidence=WORKLOAD_NEEDS,
    references=(DASHBOARD_GUIDE, NSA("Authentication & authorization")),
)
def dashboard_skip_login(inventory: Inventory, context: CheckContext) -> Outcome:
    affected: list[Affected] = []
    for part in dashboard_parts(inventory):
        flags = risky_flags(part)
        if flags:
            workload = part.workload
            detail = f"Kubernetes Dashboard {part.generation} runs with {', '.join(flags)}"
            affected.append(Affected(workload.kind, workload.namespace, workload.name, detail))
    return Outcome.from_affected(
        affected,
        passed="No dashboard runs with risky login settings.",
        failed="{count} dashboard workload(s) with risky login settings.",
    )


@check(
    id="network.dashboard_admin_sa",
    title="Kubernetes Dashboard running with an admin ServiceAccount",
    area=Area.NETWORK,
    severity=Severity.CRITICAL,
    rationale=(
        "A dashboard whose ServiceAccount is bound to cluster-admin (or an equivalent: bind, "
        "escalate, impersonate) or to a wildcard role reaching Secrets, pods or nodes is one "
        "skip-login flag, one exposed Service or one dashboard bug away from handing out the "
        "cluster: the classic 2018 mistake. Roles are graded on their effective rules, "
        "aggregated ClusterRoles included; the finding names the binding to delete." + _IDENTIFIED
    ),
    remediation=(
        "Delete the binding; the dashboard should act with each user's own token, its "
        "ServiceAccount keeping only the minimal role its manifest ships."
    ),
    evidence=(*WORKLOAD_NEEDS, *RBAC_NEEDS),
    references=(DASHBOARD_GUIDE, CIS("5.1.1"), CIS_GKE("4.1.1")),
)
def dashboard_admin_sa(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        finding
        for part in dashboard_parts(inventory)
        for finding, _ in _admin_grants(inventory, part)
    ]
    return Outcome.from_affected(
        affected,
        passed="No dashboard ServiceAccount is admin-equivalent.",
        failed="{count} admin grant(s) to a dashboard ServiceAccount.",
    )
