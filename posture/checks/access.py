"""Access checks: anonymous access, broad bindings, and who holds dangerous RBAC permissions.

Every finding names the binding to change (ClusterRoleBinding or RoleBinding) and says what it
grants to whom. Identities of the control plane, nodes and kube-system controllers are left
out (see `rbac.is_system_subject`); "everyone" principals never are.
"""

from __future__ import annotations

from clusters.inventory import Inventory
from posture.checks.base import (
    Affected,
    Area,
    CheckContext,
    Outcome,
    Severity,
    check,
)
from posture.checks.guides import CIS, CIS_GKE, GKE, NSA
from posture.checks.rbac import (
    ANONYMOUS_USER,
    AUTHENTICATED,
    BINDING_NEEDS,
    RBAC_NEEDS,
    UNAUTHENTICATED,
    Binding,
    Power,
    Rule,
    grant_detail,
    is_system_subject,
    rbac_index,
)

NSA_AUTH = NSA("Authentication & authorization")

# Default ClusterRoleBindings to the broad groups (kubernetes.io RBAC "Default roles and role
# bindings"); CIS GKE 4.1.9/4.1.10 allow exactly these. GKE's docs list public-info-viewer as
# expected for system:authenticated as well.
_UNAUTHENTICATED_DEFAULTS = frozenset({"system:public-info-viewer"})
_AUTHENTICATED_DEFAULTS = frozenset(
    {"system:basic-user", "system:discovery", "system:public-info-viewer"}
)


def _is_default_binding(binding: Binding, allowed: frozenset[str]) -> bool:
    return (
        binding.kind == "ClusterRoleBinding"
        and binding.name in allowed
        and binding.role_kind == "ClusterRole"
        and binding.role_name == binding.name
    )


@check(
    id="access.anonymous_api",
    title="The API answers anonymous requests",
    area=Area.ACCESS,
    severity=Severity.CRITICAL,
    rationale=(
        "Rampart sends GET /api without credentials. 200 means anyone who can reach the "
        "endpoint can read the API, the path by which 2018-era miners got into clusters. 401 "
        "(anonymous auth off) and 403 (anonymous accepted but RBAC denies) both pass here; a 403 "
        "is reported by access.anonymous_auth_enabled at Low severity."
    ),
    remediation=(
        "Remove the bindings that grant system:anonymous or system:unauthenticated access "
        "(see access.anonymous_bindings); on GKE set anonymousAuthenticationConfig.mode="
        "LIMITED, elsewhere run the API server with --anonymous-auth=false or an "
        "AuthenticationConfiguration anonymous allow-list of health endpoints."
    ),
    needs_probe=True,
    references=(GKE("E6", title="Restrict anonymous access to cluster endpoints"), NSA_AUTH),
)
def anonymous_api(inventory: Inventory, context: CheckContext) -> Outcome:
    code = (inventory.anonymous_probe or {}).get("/api")
    if code is None:
        return Outcome.unknown("GET /api was not probed")
    if code == 200:
        return Outcome.failed(
            [Affected("APIServer", "", "/api", "GET /api answered 200 without credentials")],
            "The API answers anonymous requests.",
        )
    if code in (401, 403):
        return Outcome.passed(f"GET /api answered {code} without credentials.")
    return Outcome.unknown(f"GET /api answered {code}, which neither grants nor denies access.")


@check(
    id="access.anonymous_auth_enabled",
    title="Anonymous authentication is enabled",
    area=Area.ACCESS,
    severity=Severity.LOW,
    rationale=(
        "A 403 to an unauthenticated GET /api (rather than 401) proves the API server accepts "
        "anonymous requests as system:anonymous; only RBAC then stands between the internet and "
        "the API, so a single bad binding opens it. A readable /version discloses the exact "
        "build to attackers matching CVEs. Low: this is the upstream default, and RBAC still "
        "denies; a 200 on /api is access.anonymous_api (Critical)."
    ),
    remediation=(
        "GKE: gcloud container clusters update CLUSTER --anonymous-authentication-config=LIMITED "
        "(only /healthz, /livez, /readyz stay anonymous). Self-managed: --anonymous-auth=false, "
        "or an AuthenticationConfiguration whose anonymous.conditions allow health paths only."
    ),
    needs_probe=True,
    references=(GKE("E6", title="Restrict anonymous access to cluster endpoints"), NSA_AUTH),
)
def anonymous_auth_enabled(inventory: Inventory, context: CheckContext) -> Outcome:
    probe = inventory.anonymous_probe or {}
    api, version = probe.get("/api"), probe.get("/version")
    affected: list[Affected] = []
    if api in (200, 403):
        affected.append(
            Affected(
                "APIServer",
                "",
                "/api",
                f"GET /api answered {api} without credentials: the request was accepted as "
                "system:anonymous (401 would mean anonymous auth is off)",
            )
        )
    if version == 200:
        affected.append(
            Affected(
                "APIServer",
                "",
                "/version",
                "GET /version answered 200 without credentials: the build is public",
            )
        )
    if affected:
        return Outcome.failed(affected, "Anonymous requests are authenticated.")
    if 401 in (api, version):
        return Outcome.passed("Anonymous requests are rejected with 401.")
    return Outcome.unknown(f"probe answered /api={api}, /version={version}: inconclusive")


@check(
    id="access.anonymous_bindings",
    title="Bindings to system:anonymous or system:unauthenticated",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "Anything bound to User system:anonymous or Group system:unauthenticated is granted to "
        "every request that carries no credentials. The only default such binding since "
        "Kubernetes 1.14 is ClusterRoleBinding system:public-info-viewer (health and version "
        "paths), which is allowed (CIS GKE 4.1.9). Each finding names the role and grades its "
        "power; powerful ones are also access.broad_powerful_bindings (Critical)."
    ),
    remediation=(
        "Delete the binding or replace the subject with the identities that need it. On GKE "
        "1.30.1+ also set --no-enable-insecure-binding-system-unauthenticated."
    ),
    evidence=BINDING_NEEDS,
    references=(
        CIS_GKE("4.1.8", title="Avoid bindings to system:anonymous"),
        CIS_GKE("4.1.9", title="Avoid non-default bindings to system:unauthenticated"),
        GKE("E6"),
        GKE("L13"),
        NSA_AUTH,
    ),
)
def anonymous_bindings(inventory: Inventory, context: CheckContext) -> Outcome:
    return _broad_bindings(
        inventory,
        principals={("User", ANONYMOUS_USER), ("Group", UNAUTHENTICATED)},
        allowed=_UNAUTHENTICATED_DEFAULTS,
        failed="{count} binding(s) grant access without credentials.",
    )


@check(
    id="access.authenticated_bindings",
    title="Non-default bindings to system:authenticated",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "Group system:authenticated holds every identity the API server accepts: every "
        "ServiceAccount token in every pod and, on GKE, any Google account at all. The default "
        "ClusterRoleBindings system:basic-user, system:discovery and system:public-info-viewer "
        "are allowed (CIS GKE 4.1.10 and GKE's docs); anything else is reported with its role."
    ),
    remediation=(
        "Bind the role to the groups or users that need it instead. On GKE 1.30.1+ also set "
        "--no-enable-insecure-binding-system-authenticated."
    ),
    evidence=BINDING_NEEDS,
    references=(
        CIS_GKE("4.1.10", title="Avoid non-default bindings to system:authenticated"),
        GKE("L13"),
        NSA_AUTH,
    ),
)
def authenticated_bindings(inventory: Inventory, context: CheckContext) -> Outcome:
    return _broad_bindings(
        inventory,
        principals={("Group", AUTHENTICATED)},
        allowed=_AUTHENTICATED_DEFAULTS,
        failed="{count} non-default binding(s) to every authenticated identity.",
    )


def _broad_bindings(
    inventory: Inventory,
    *,
    principals: set[tuple[str, str]],
    allowed: frozenset[str],
    failed: str,
) -> Outcome:
    index = rbac_index(inventory)
    affected = [
        binding.affected(grant_detail(binding, subject, index.describe_role(binding)))
        for binding in index.bindings
        if not _is_default_binding(binding, allowed)
        for subject in binding.subjects
        if (subject.kind, subject.name) in principals
    ]
    return Outcome.from_affected(affected, passed="Only default bindings.", failed=failed)


@check(
    id="access.broad_powerful_bindings",
    title="Powerful roles granted to everyone",
    area=Area.ACCESS,
    severity=Severity.CRITICAL,
    rationale=(
        "A role that reads Secrets, creates or execs into pods, proxies to kubelets, mints tokens "
        "or administers the cluster, bound to system:anonymous, system:unauthenticated, "
        "system:authenticated or a system:serviceaccounts group, turns any request (or any pod) "
        "into a cluster takeover: the hardening guide's Critical case. Roles are graded on their "
        "effective rules, aggregated ClusterRoles included."
    ),
    remediation="Delete the binding now; then grant the role to named identities only.",
    evidence=RBAC_NEEDS,
    references=(
        CIS_GKE("4.1.8"),
        CIS_GKE("4.1.9"),
        CIS_GKE("4.1.10"),
        GKE("L13"),
        NSA_AUTH,
    ),
)
def broad_powerful_bindings(inventory: Inventory, context: CheckContext) -> Outcome:
    index = rbac_index(inventory)
    affected = [
        binding.affected(grant_detail(binding, subject, index.describe_role(binding)))
        for binding in index.bindings
        if index.grade(binding)[0] >= Power.SENSITIVE
        for subject in binding.subjects
        if subject.is_broad and subject.name != "system:serviceaccounts:kube-system"
    ]
    return Outcome.from_affected(
        affected,
        passed="No powerful role is bound to a broad group.",
        failed="{count} powerful grant(s) to everyone of a kind.",
    )


@check(
    id="access.cluster_admin_bindings",
    title="cluster-admin granted to non-system subjects",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "cluster-admin (or a ClusterRole equivalent to it: * verbs on * resources in * groups) "
        "is total control. Left out: Group system:masters (the default cluster-admin binding) "
        "and kubeadm:cluster-admins (kubeadm 1.29+'s admin.conf group), "
        "other system:-prefixed users and groups (control-plane and node identities), and "
        "ServiceAccounts in kube-system except `default`. A RoleBinding to cluster-admin is "
        "reported too: it is admin of that namespace, Secrets included."
    ),
    remediation=(
        "Grant people a narrower role (admin/edit per namespace) through groups; keep "
        "cluster-admin for break-glass access."
    ),
    evidence=BINDING_NEEDS,
    references=(
        CIS("5.1.1", title="Ensure that the cluster-admin role is only used where required"),
        CIS_GKE("4.1.1"),
        GKE("E3"),
        NSA_AUTH,
    ),
)
def cluster_admin_bindings(inventory: Inventory, context: CheckContext) -> Outcome:
    index = rbac_index(inventory)
    affected: list[Affected] = []
    for binding in index.bindings:
        if binding.role_kind != "ClusterRole":
            continue
        if binding.role_name == "cluster-admin":
            what = "cluster-admin"
        elif inventory.in_hand("clusterroles") and any(
            rule.is_superuser for rule in index.rules_of(binding)
        ):
            what = f"{binding.role} (equivalent to cluster-admin)"
        else:
            continue
        affected.extend(
            binding.affected(grant_detail(binding, subject, what))
            for subject in binding.subjects
            if not is_system_subject(binding, subject)
        )
    return Outcome.from_affected(
        affected,
        passed="cluster-admin is held by system identities only.",
        failed="{count} non-system grant(s) of cluster-admin.",
    )


@check(
    id="access.system_masters",
    title="Extra bindings to Group system:masters",
    area=Area.ACCESS,
    severity=Severity.HIGH,
    rationale=(
        "Members of system:masters bypass RBAC entirely and cannot be revoked short of rotating "
        "the CA. Membership lives in client certificates, which the API does not list, so this "
        "check reports the visible sign of it being used: bindings naming the group besides the "
        "default ClusterRoleBinding cluster-admin."
    ),
    remediation=(
        "Delete the extra bindings, and issue administrators certificates or identities in "
        "ordinary groups bound to the roles they need."
    ),
    evidence=BINDING_NEEDS,
    references=(
        CIS("5.1.7", title="Avoid use of system:masters group"),
        CIS_GKE("4.1.6"),
        GKE("K1"),
    ),
)
def system_masters(inventory: Inventory, context: CheckContext) -> Outcome:
    affected = [
        binding.affected(grant_detail(binding, subject, binding.role))
        for binding in rbac_index(inventory).bindings
        if not (binding.kind == "ClusterRoleBinding" and binding.name == "cluster-admin")
        for subject in binding.subjects
        if subject.kind == "Group" and subject.name == "system:masters"
    ]
    return Outcome.from_affected(
        affected,
        passed="Only the default binding names system:masters.",
        failed="{count} extra binding(s) to system:masters.",
    )


@check(
    id="access.wildcard_roles",
    title="Roles with wildcards",
    area=Area.ACCESS,
    severity=Severity.MEDIUM,
    rationale=(
        "A `*` in verbs, resources or apiGroups grants today's and tomorrow's permissions, "
        "including those of CRDs installed later. Left out: cluster-admin and `system:` "
        "ClusterRoles (shipped with Kubernetes and its providers), and aggregated ClusterRoles, "
        "whose rules are copies (the role they copy from is reported)."
    ),
    remediation="List the verbs, resources and API groups the role needs explicitly.",
    evidence=("roles", "clusterroles"),
    references=(
        CIS("5.1.3", title="Minimize wildcard use in Roles and ClusterRoles"),
        CIS_GKE("4.1.3"),
        GKE("E3"),
    ),
)
def wildcard_roles(inventory: Inventory, context: CheckContext) -> Outcome:
    affected: list[Affected] = []
    for key, kind in (("clusterroles", "ClusterRole"), ("roles", "Role")):
        for role in inventory.items(key):
            meta = role.get("metadata") or {}
            name = meta.get("name", "")
            if kind == "ClusterRole" and (
                name == "cluster-admin" or name.startswith("system:") or role.get("aggregationRule")
            ):
                continue
            wild = [r for r in map(Rule.from_json, role.get("rules") or []) if r.wildcard_fields]
            if wild:
                detail = "; ".join(
                    f"{r.describe()} (* in {', '.join(r.wildcard_fields)})" for r in wild
                )
                affected.append(Affected(kind, meta.get("namespace", ""), name, detail))
    return Outcome.from_affected(
        affected, passed="No role uses wildcards.", failed="{count} role(s) use wildcards."
    )


# Register the permission checks (secrets readers, exec, escalation, ...) and the
# ServiceAccount checks with these; the catalog imports this module only.
