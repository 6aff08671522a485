"""Access checks on dangerous permissions: who can read Secrets, exec, escalate, mint tokens..."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.inventory import Inventory, KindStatus
from posture.checks import access  # noqa: F401  (registers the access checks)
from posture.checks.base import Status
from posture.tests.rbac_factories import (
    CLUSTER_ADMIN,
    JSON,
    SECRET_READER,
    VIEW,
    cluster,
    cluster_role,
    crb,
    details,
    group,
    rb,
    role,
    rule,
    run,
    service_account,
    user,
)
from posture.workloads import WORKLOAD_NEEDS

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
