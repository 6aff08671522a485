"""Access checks, told as small clusters: who is bound to what, and what the probe saw."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.inventory import Inventory, KindStatus
from posture.checks import access  # noqa: F401  (registers the access checks)
from posture.checks.base import REGISTRY, CheckContext, Outcome, Status, run_check
from posture.workloads import WORKLOAD_NEEDS

JSON = dict[str, Any]
RBAC_KEYS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


# --- factories ------------------------------------------------------------------------------


def rule(
    verbs: list[str], resources: list[str], groups: list[str] | None = None, **extra: Any
) -> JSON:
    return {"verbs": verbs, "resources": resources, "apiGroups": groups or [""], **extra}


def cluster_role(
    name: str, *rules: JSON, labels: dict[str, str] | None = None, **extra: Any
) -> JSON:
    return {"metadata": {"name": name, "labels": labels or {}}, "rules": list(rules), **extra}


def role(namespace: str, name: str, *rules: JSON) -> JSON:
    return {"metadata": {"namespace": namespace, "name": name}, "rules": list(rules)}


def user(name: str) -> JSON:
    return {"kind": "User", "name": name}


def group(name: str) -> JSON:
    return {"kind": "Group", "name": name}


def service_account(namespace: str, name: str) -> JSON:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def crb(name: str, role_name: str, *subjects: JSON) -> JSON:
    return {
        "metadata": {"name": name},
        "roleRef": {"kind": "ClusterRole", "name": role_name},
        "subjects": list(subjects),
    }


def rb(
    namespace: str, name: str, role_name: str, *subjects: JSON, kind: str = "ClusterRole"
) -> JSON:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "roleRef": {"kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def cluster(**kinds: list[JSON]) -> Inventory:
    """An inventory with RBAC kinds listed (empty unless given) plus whatever else is passed."""
    inventory = Inventory()
    for key in RBAC_KEYS:
        inventory.set_objects(key, kinds.pop(key, []))
    for key, items in kinds.items():
        inventory.set_objects(key, items)
    return inventory


CLUSTER_ADMIN = cluster_role("cluster-admin", rule(["*"], ["*"], ["*"]))
SECRET_READER = cluster_role("secret-reader", rule(["get", "list"], ["secrets"]))
VIEW = cluster_role("view", rule(["get", "list", "watch"], ["pods", "configmaps"]))


def run(check_id: str, inventory: Inventory) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext()).outcome


def details(outcome: Outcome) -> list[tuple[str, str, str, str]]:
    return [(a.kind, a.namespace, a.name, a.detail) for a in outcome.affected]


# --- anonymous access -----------------------------------------------------------------------


def probed(**codes: int) -> Inventory:
    inventory = cluster()
    inventory.anonymous_probe = {f"/{path}": code for path, code in codes.items()}
    return inventory


def test_it_fails_critical_when_api_answers_anonymously() -> None:
    outcome = run("access.anonymous_api", probed(api=200, version=200))
    assert outcome.status == Status.FAIL
    assert details(outcome)[0][:3] == ("APIServer", "", "/api")
    assert REGISTRY["access.anonymous_api"].severity == "critical"


@pytest.mark.parametrize("code", [401, 403])
def test_it_passes_anonymous_api_when_denied(code: int) -> None:
    assert run("access.anonymous_api", probed(api=code)).status == Status.PASS


def test_it_is_unknown_when_a_bundle_could_not_probe() -> None:
    outcome = run("access.anonymous_api", cluster())
    assert outcome.status == Status.UNKNOWN
    assert "not probed" in outcome.summary
    assert run("access.anonymous_auth_enabled", cluster()).status == Status.UNKNOWN


def test_it_is_unknown_when_the_probe_proves_nothing() -> None:
    assert run("access.anonymous_api", probed(api=502)).status == Status.UNKNOWN


def test_it_reports_anonymous_auth_enabled_on_403() -> None:
    outcome = run("access.anonymous_auth_enabled", probed(api=403, version=200))
    assert outcome.status == Status.FAIL
    assert [a.name for a in outcome.affected] == ["/api", "/version"]
    assert "system:anonymous" in outcome.affected[0].detail
    assert REGISTRY["access.anonymous_auth_enabled"].severity == "low"


def test_it_passes_anonymous_auth_when_everything_is_401() -> None:
    outcome = run("access.anonymous_auth_enabled", probed(api=401, version=401))
    assert outcome.status == Status.PASS


# --- bindings to broad groups ---------------------------------------------------------------

PUBLIC_INFO = crb(
    "system:public-info-viewer",
    "system:public-info-viewer",
    group("system:authenticated"),
    group("system:unauthenticated"),
)
DISCOVERY = crb("system:discovery", "system:discovery", group("system:authenticated"))
BASIC_USER = crb("system:basic-user", "system:basic-user", group("system:authenticated"))


def test_it_allows_the_default_public_bindings() -> None:
    inventory = cluster(clusterrolebindings=[PUBLIC_INFO, DISCOVERY, BASIC_USER])
    assert run("access.anonymous_bindings", inventory).status == Status.PASS
    assert run("access.authenticated_bindings", inventory).status == Status.PASS


def test_it_fails_bindings_to_anonymous_naming_binding_and_role() -> None:
    binding = crb("anon-view", "view", user("system:anonymous"))
    outcome = run(
        "access.anonymous_bindings", cluster(clusterroles=[VIEW], clusterrolebindings=[binding])
    )
    assert details(outcome) == [
        (
            "ClusterRoleBinding",
            "",
            "anon-view",
            "grants ClusterRole view (read-only) to User system:anonymous",
        )
    ]


def test_it_does_not_allow_a_default_name_bound_to_another_role() -> None:
    disguised = crb("system:public-info-viewer", "view", group("system:unauthenticated"))
    outcome = run(
        "access.anonymous_bindings", cluster(clusterroles=[VIEW], clusterrolebindings=[disguised])
    )
    assert outcome.status == Status.FAIL


def test_it_fails_non_default_bindings_to_authenticated() -> None:
    binding = rb("team", "all-read", "view", group("system:authenticated"))
    outcome = run(
        "access.authenticated_bindings", cluster(clusterroles=[VIEW], rolebindings=[binding])
    )
    assert details(outcome) == [
        (
            "RoleBinding",
            "team",
            "all-read",
            "grants ClusterRole view (read-only) in namespace team to Group system:authenticated",
        )
    ]


def test_it_says_when_the_role_could_not_be_judged() -> None:
    inventory = Inventory()
    inventory.set_objects("clusterrolebindings", [crb("anon", "view", user("system:anonymous"))])
    inventory.set_objects("rolebindings", [])
    outcome = run("access.anonymous_bindings", inventory)
    assert outcome.status == Status.FAIL
    assert "power unknown" in outcome.affected[0].detail


def test_it_is_unknown_when_bindings_are_forbidden() -> None:
    inventory = Inventory()
    inventory.set_objects("rolebindings", [])
    inventory.set_missing("clusterrolebindings", KindStatus.FORBIDDEN, "403")
    outcome = run("access.anonymous_bindings", inventory)
    assert outcome.status == Status.UNKNOWN
    assert "clusterrolebindings forbidden" in outcome.summary


def test_it_fails_critical_for_powerful_roles_granted_to_everyone() -> None:
    read_all = crb("read-all", "view", group("system:authenticated"))
    secrets = crb("leak", "secret-reader", group("system:unauthenticated"))
    outcome = run(
        "access.broad_powerful_bindings",
        cluster(
            clusterroles=[VIEW, SECRET_READER], clusterrolebindings=[read_all, secrets, PUBLIC_INFO]
        ),
    )
    assert [a.name for a in outcome.affected] == ["leak"]
    assert "sensitive: read Secrets" in outcome.affected[0].detail


# --- cluster-admin, system:masters, wildcards -----------------------------------------------


def test_it_fails_cluster_admin_for_people_and_leaves_system_subjects_out() -> None:
    bindings = [
        crb("cluster-admin", "cluster-admin", group("system:masters")),
        crb("alice-admin", "cluster-admin", user("alice@example.com")),
        crb("system:controller:x", "cluster-admin", service_account("kube-system", "x-controller")),
        crb("tiller", "cluster-admin", service_account("kube-system", "default")),
    ]
    outcome = run(
        "access.cluster_admin_bindings",
        cluster(clusterroles=[CLUSTER_ADMIN], clusterrolebindings=bindings),
    )
    assert details(outcome) == [
        ("ClusterRoleBinding", "", "alice-admin", "grants cluster-admin to User alice@example.com"),
        (
            "ClusterRoleBinding",
            "",
            "tiller",
            "grants cluster-admin to ServiceAccount kube-system/default",
        ),
    ]


def test_it_fails_cluster_admin_equivalents_and_namespaced_grants() -> None:
    superuser = cluster_role("superuser", rule(["*"], ["*"], ["*"]))
    outcome = run(
        "access.cluster_admin_bindings",
        cluster(
            clusterroles=[superuser, CLUSTER_ADMIN],
            clusterrolebindings=[crb("ops", "superuser", group("ops"))],
            rolebindings=[rb("team", "bob-admin", "cluster-admin", user("bob"))],
        ),
    )
    assert details(outcome) == [
        (
            "ClusterRoleBinding",
            "",
            "ops",
            "grants ClusterRole superuser (equivalent to cluster-admin) to Group ops",
        ),
        ("RoleBinding", "team", "bob-admin", "grants cluster-admin in namespace team to User bob"),
    ]


def test_it_reports_extra_system_masters_bindings() -> None:
    bindings = [
        crb("cluster-admin", "cluster-admin", group("system:masters")),
        crb("masters-view", "view", group("system:masters")),
    ]
    outcome = run("access.system_masters", cluster(clusterrolebindings=bindings))
    assert [a.name for a in outcome.affected] == ["masters-view"]


def test_it_fails_wildcard_roles_but_not_built_in_ones() -> None:
    outcome = run(
        "access.wildcard_roles",
        cluster(
            clusterroles=[
                CLUSTER_ADMIN,
                cluster_role("system:controller:x", rule(["*"], ["pods"])),
                cluster_role("operator", rule(["*"], ["deployments"], ["apps"])),
            ],
            roles=[role("team", "everything", rule(["get"], ["*"]))],
        ),
    )
    assert [(a.kind, a.namespace, a.name) for a in outcome.affected] == [
        ("ClusterRole", "", "operator"),
        ("Role", "team", "everything"),
    ]
    assert "* in verbs" in outcome.affected[0].detail


def test_it_passes_wildcards_when_there_are_none() -> None:
    assert run("access.wildcard_roles", cluster(clusterroles=[VIEW])).status == Status.PASS


# --- dangerous permissions ------------------------------------------------------------------


def test_it_reports_cluster_wide_secrets_readers_only() -> None:
    inventory = cluster(
        clusterroles=[SECRET_READER],
        clusterrolebindings=[
            crb("ci-secrets", "secret-reader", service_account("ci", "deployer")),
            crb(
                "system:kube-controller-manager",
                "secret-reader",
                user("system:kube-controller-manager"),
            ),
        ],
        rolebindings=[rb("team", "team-secrets", "secret-reader", user("carol"))],
    )
    outcome = run("access.secrets_readers", inventory)
    assert details(outcome) == [
        (
            "ClusterRoleBinding",
            "",
            "ci-secrets",
            "grants read Secrets to ServiceAccount ci/deployer (via ClusterRole secret-reader)",
        )
    ]


def test_it_leaves_gke_kubelet_bindings_out() -> None:
    node = cluster_role("system:node", rule(["get"], ["secrets"]), rule(["create"], ["pods"]))
    inventory = cluster(
        clusterroles=[node],
        clusterrolebindings=[crb("kubelet-cluster-admin", "system:node", user("kubelet"))],
    )
    assert run("access.secrets_readers", inventory).status == Status.PASS
    assert run("access.pod_creators", inventory).status == Status.PASS


def test_it_ignores_rules_narrowed_by_resource_names() -> None:
    narrow = cluster_role("one-secret", rule(["get"], ["secrets"], resourceNames=["app-config"]))
    inventory = cluster(
        clusterroles=[narrow], clusterrolebindings=[crb("b", "one-secret", user("dan"))]
    )
    assert run("access.secrets_readers", inventory).status == Status.PASS


@pytest.mark.parametrize(
    ("check_id", "granting_rule"),
    [
        ("access.pod_exec", rule(["create"], ["pods/exec"])),
        ("access.pod_exec", rule(["get"], ["pods/attach"])),
        (
            "access.escalation_verbs",
            rule(["escalate"], ["clusterroles"], ["rbac.authorization.k8s.io"]),
        ),
        ("access.escalation_verbs", rule(["impersonate"], ["users"])),
        ("access.pod_creators", rule(["create"], ["pods"])),
        ("access.pod_creators", rule(["patch"], ["deployments"], ["apps"])),
        ("access.nodes_proxy", rule(["get"], ["nodes/proxy"])),
        (
            "access.csr_approval",
            rule(["update"], ["certificatesigningrequests/approval"], ["certificates.k8s.io"]),
        ),
        (
            "access.webhook_writers",
            rule(["patch"], ["mutatingwebhookconfigurations"], ["admissionregistration.k8s.io"]),
        ),
        ("access.token_creators", rule(["create"], ["serviceaccounts/token"])),
        ("access.pv_creators", rule(["create"], ["persistentvolumes"])),
    ],
)
def test_it_names_the_binding_granting_a_dangerous_permission(
    check_id: str, granting_rule: JSON
) -> None:
    inventory = cluster(
        clusterroles=[cluster_role("risky", granting_rule)],
        clusterrolebindings=[crb("risky-binding", "risky", user("erin"))],
    )
    outcome = run(check_id, inventory)
    assert outcome.status == Status.FAIL
    kind, namespace, name, detail = details(outcome)[0]
    assert (kind, namespace, name) == ("ClusterRoleBinding", "", "risky-binding")
    assert detail.endswith("to User erin (via ClusterRole risky)")


def test_it_names_the_namespace_of_a_role_binding_grant() -> None:
    inventory = cluster(
        roles=[role("ci", "deployer", rule(["create"], ["pods/exec"]))],
        rolebindings=[
            rb("ci", "deployer", "deployer", service_account("ci", "runner"), kind="Role")
        ],
    )
    assert details(run("access.pod_exec", inventory)) == [
        (
            "RoleBinding",
            "ci",
            "deployer",
            "grants exec or attach into Pods in namespace ci to ServiceAccount ci/runner "
            "(via Role deployer)",
        )
    ]


def test_it_knows_a_role_binding_cannot_reach_cluster_scoped_resources() -> None:
    everything = role("ci", "everything", rule(["*"], ["*"], ["*"]))
    inventory = cluster(
        roles=[everything],
        rolebindings=[rb("ci", "everything", "everything", user("erin"), kind="Role")],
    )
    for check_id in ("access.nodes_proxy", "access.csr_approval", "access.webhook_writers"):
        assert run(check_id, inventory).status == Status.PASS
    assert run("access.pod_exec", inventory).status == Status.FAIL


def test_it_reports_one_finding_per_binding_and_subject() -> None:
    editor = cluster_role(
        "deployer", rule(["create"], ["pods"]), rule(["create"], ["deployments"], ["apps"])
    )
    inventory = cluster(
        clusterroles=[editor], clusterrolebindings=[crb("ci", "deployer", group("ci"))]
    )
    outcome = run("access.pod_creators", inventory)
    assert details(outcome) == [
        (
            "ClusterRoleBinding",
            "",
            "ci",
            "grants create Pods and create or change workload controllers to Group ci "
            "(via ClusterRole deployer)",
        )
    ]


def test_it_leaves_the_kubeadm_admin_group_out() -> None:
    admins = crb("kubeadm:cluster-admins", "cluster-admin", group("kubeadm:cluster-admins"))
    inventory = cluster(clusterroles=[CLUSTER_ADMIN], clusterrolebindings=[admins])
    assert run("access.cluster_admin_bindings", inventory).status == Status.PASS
    assert run("access.secrets_readers", inventory).status == Status.PASS


def test_it_passes_permission_checks_for_read_only_roles() -> None:
    inventory = cluster(
        clusterroles=[VIEW], clusterrolebindings=[crb("everyone-views", "view", group("devs"))]
    )
    for check_id in (
        "access.pod_exec",
        "access.pod_creators",
        "access.secrets_readers",
        "access.nodes_proxy",
    ):
        assert run(check_id, inventory).status == Status.PASS


def test_it_is_unknown_when_roles_are_forbidden() -> None:
    inventory = cluster()
    inventory.set_missing("clusterroles", KindStatus.FORBIDDEN, "403")
    outcome = run("access.pod_exec", inventory)
    assert outcome.status == Status.UNKNOWN
    assert "clusterroles" in outcome.summary


# --- service accounts -----------------------------------------------------------------------


def test_it_fails_bindings_to_default_service_accounts() -> None:
    binding = rb("shop", "default-edit", "edit", {"kind": "ServiceAccount", "name": "default"})
    outcome = run("access.default_sa_bindings", cluster(rolebindings=[binding]))
    assert details(outcome)[0][:3] == ("RoleBinding", "shop", "default-edit")
    assert "ServiceAccount shop/default" in details(outcome)[0][3]


def sa(namespace: str, name: str, automount: bool | None = None) -> JSON:
    obj: JSON = {"metadata": {"namespace": namespace, "name": name}}
    if automount is not None:
        obj["automountServiceAccountToken"] = automount
    return obj


def test_it_fails_default_accounts_that_automount_outside_system_namespaces() -> None:
    accounts = [sa("shop", "default"), sa("blog", "default", False), sa("kube-system", "default")]
    outcome = run("access.default_sa_automount", cluster(serviceaccounts=accounts))
    assert details(outcome) == [
        (
            "ServiceAccount",
            "shop",
            "default",
            "automountServiceAccountToken is not set (defaults to true)",
        )
    ]


def test_it_is_unknown_without_service_accounts() -> None:
    assert run("access.default_sa_automount", cluster()).status == Status.UNKNOWN


def deployment(namespace: str, name: str, **pod_spec: Any) -> JSON:
    spec = {"containers": [{"name": "app", "image": "shop:1"}], **pod_spec}
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
    }


def with_workloads(*deployments: JSON, **kinds: list[JSON]) -> Inventory:
    workload_kinds: dict[str, list[JSON]] = {key: [] for key in WORKLOAD_NEEDS}
    workload_kinds["deployments"] = list(deployments)
    return cluster(**workload_kinds, **kinds)


def test_it_flags_tokens_mounted_for_service_accounts_without_rights() -> None:
    inventory = with_workloads(
        deployment("shop", "web"),
        deployment("shop", "api", serviceAccountName="api"),
        deployment("shop", "batch", automountServiceAccountToken=False),
        deployment("shop", "quiet", serviceAccountName="quiet"),
        deployment("kube-system", "dns"),
        serviceaccounts=[sa("shop", "default"), sa("shop", "api"), sa("shop", "quiet", False)],
        rolebindings=[rb("shop", "api-reads", "view", service_account("shop", "api"))],
    )
    outcome = run("access.automounted_tokens", inventory)
    assert details(outcome) == [
        (
            "Deployment",
            "shop",
            "web",
            "mounts a token for ServiceAccount default, which no binding names",
        )
    ]


def test_it_is_unknown_for_tokens_when_workloads_are_missing() -> None:
    inventory = cluster(serviceaccounts=[])
    outcome = run("access.automounted_tokens", inventory)
    assert outcome.status == Status.UNKNOWN
    assert "pods" in outcome.summary
