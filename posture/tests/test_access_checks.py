"""Access checks, told as small clusters: who is bound to what, and what the probe saw."""

from __future__ import annotations

import pytest

from clusters.inventory import Inventory, KindStatus
from posture.checks import access  # noqa: F401  (registers the access checks)
from posture.checks.base import REGISTRY, Status
from posture.tests.rbac_factories import (
    CLUSTER_ADMIN,
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
