"""Calico policies in the network checks, through a bundle and through the live API.

The default-deny policies are the Calico documentation's ("Enable default deny for Kubernetes
pods", docs.tigera.io/calico/latest/network-policy/get-started/kubernetes-default-deny),
written out by hand as the crd.projectcalico.org/v1 objects a Kubernetes-datastore Calico
stores them as. Calico denies what no rule decided once a policy applies to a pod for a
direction; an Allow with no match criteria reached first in policy order undoes that.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.inventory import KindStatus
from posture.checks.base import Status
from posture.tests.policy_engine_factories import (
    CALICO,
    CALICO_V3,
    POLICY_CHECKS,
    Source,
    cluster,
    deployment,
    detail_of,
    names,
    namespace,
    obj,
    run,
)

NP, GNP = CALICO
NP_V3, GNP_V3 = CALICO_V3


@pytest.fixture(params=["bundle", "live"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    return Source(request.param, tmp_path)


def engineering_and_blog(*policies: dict, crds_of: tuple[str, ...] = CALICO) -> dict:
    return cluster(
        namespace("engineering", team="platform"),
        namespace("blog"),
        namespace("kube-system"),
        namespace("calico-system"),
        deployment("engineering", "builder", app="builder"),
        deployment("blog", "site", app="site"),
        deployment("calico-system", "calico-typha", **{"k8s-app": "calico-typha"}),
        *policies,
        crds_of=crds_of,
    )


def global_policy(name: str, key: str = GNP, **spec: object) -> dict:
    return obj(key, name, spec=spec)


def kubernetes_default_deny(ns: str) -> dict:
    # "Enable default deny Kubernetes policy, namespaced" on the same page.
    return obj(
        "networkpolicies",
        "default-deny",
        ns,
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    )


def test_it_honours_the_namespaced_default_deny_and_still_reports_the_others(
    source: Source,
) -> None:
    # "Enable default deny Calico network policy, namespaced".
    default_deny = obj(
        NP,
        "default-deny",
        "engineering",
        spec={"selector": "all()", "types": ["Ingress", "Egress"]},
    )
    inventory = source.collect(engineering_and_blog(default_deny))

    ingress = run("network.default_deny_missing", inventory)
    assert names(ingress) == [("Namespace", "", "blog"), ("Namespace", "", "calico-system")]
    assert detail_of(ingress, "blog") == (
        "no NetworkPolicy or Calico policy denies ingress to every pod by default; nor egress"
    )
    assert names(run("network.default_deny_egress_missing", inventory)) == names(ingress)
    assert names(run("network.pods_unselected", inventory)) == [
        ("Deployment", "blog", "site"),
        ("Deployment", "calico-system", "calico-typha"),
    ]


def test_it_honours_the_global_default_deny(source: Source) -> None:
    # "Enable default deny Calico global network policy, non-namespaced".
    default_deny = global_policy("default-deny", selector="all()", types=["Ingress", "Egress"])
    inventory = source.collect(engineering_and_blog(default_deny))

    for check_id in POLICY_CHECKS:
        assert run(check_id, inventory).status == Status.PASS, check_id
    assert run("network.default_deny_missing", inventory).summary == (
        "Every namespace denies ingress by default (Calico GlobalNetworkPolicy in 3)."
    )


def test_it_selects_namespaces_by_name_with_the_documented_namespace_selector(
    source: Source,
) -> None:
    # The page's recommended deny-app-policy: every namespace but the system ones, allowing
    # DNS only. kube-system is skipped by the checks; calico-system is excluded by the policy.
    deny_app_policy = global_policy(
        "deny-app-policy",
        namespaceSelector=(
            'has(projectcalico.org/name) && projectcalico.org/name not in {"kube-system", '
            '"calico-system", "calico-apiserver"}'
        ),
        types=["Ingress", "Egress"],
        egress=[
            {
                "action": "Allow",
                "protocol": "UDP",
                "destination": {"selector": 'k8s-app == "kube-dns"', "ports": [53]},
            },
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {"selector": 'k8s-app == "kube-dns"', "ports": [53]},
            },
        ],
    )
    inventory = source.collect(engineering_and_blog(deny_app_policy))

    for check_id in POLICY_CHECKS[:2]:
        assert names(run(check_id, inventory)) == [("Namespace", "", "calico-system")], check_id
    assert names(run("network.pods_unselected", inventory)) == [
        ("Deployment", "calico-system", "calico-typha")
    ]


def test_it_matches_namespace_labels_in_a_selector(source: Source) -> None:
    # A pod carries its namespace's labels prefixed pcns. ("Calico automatic labels").
    platform = global_policy(
        "platform-isolation", selector="pcns.team == 'platform'", types=["Ingress"]
    )
    inventory = source.collect(engineering_and_blog(platform))

    assert names(run("network.default_deny_missing", inventory)) == [
        ("Namespace", "", "blog"),
        ("Namespace", "", "calico-system"),
    ]


def test_it_lets_an_allow_all_that_comes_first_reopen_a_kubernetes_default_deny(
    source: Source,
) -> None:
    # Calico enforces Kubernetes NetworkPolicies at order 1000; order 100 is evaluated first.
    allow_all = global_policy(
        "allow-all-first", order=100, selector="all()", ingress=[{"action": "Allow"}]
    )
    inventory = source.collect(
        engineering_and_blog(
            allow_all, *(kubernetes_default_deny(ns) for ns in ("engineering", "blog"))
        )
    )

    ingress = run("network.default_deny_missing", inventory)
    assert detail_of(ingress, "blog").startswith(
        "Calico GlobalNetworkPolicy allow-all-first allows all ingress"
    )
    assert run("network.default_deny_egress_missing", inventory).affected[0].name == (
        "calico-system"
    )


def test_it_keeps_a_deny_of_everything_that_comes_before_an_allow(source: Source) -> None:
    deny_first = global_policy(
        "quarantine", order=10, selector="all()", ingress=[{"action": "Deny"}]
    )
    allow_later = global_policy(
        "allow-later", order=20, selector="all()", ingress=[{"action": "Allow"}]
    )
    inventory = source.collect(engineering_and_blog(allow_later, deny_first))

    assert run("network.default_deny_missing", inventory).status == Status.PASS


def test_it_lets_an_earlier_allow_win_over_a_later_deny_and_puts_unordered_last(
    source: Source,
) -> None:
    allow_first = global_policy(
        "allow-first", order=5, selector="all()", ingress=[{"action": "Allow"}]
    )
    deny_unordered = global_policy("deny-unordered", selector="all()", ingress=[{"action": "Deny"}])
    inventory = source.collect(engineering_and_blog(deny_unordered, allow_first))

    assert detail_of(run("network.default_deny_missing", inventory), "blog").startswith(
        "Calico GlobalNetworkPolicy allow-first allows all ingress"
    )


def test_it_reads_a_pass_of_everything_as_leaving_the_default_tier(source: Source) -> None:
    pass_all = global_policy("pass-all", order=1, selector="all()", ingress=[{"action": "Pass"}])
    inventory = source.collect(engineering_and_blog(pass_all, kubernetes_default_deny("blog")))

    detail = detail_of(run("network.default_deny_missing", inventory), "blog")
    assert detail.startswith("Calico GlobalNetworkPolicy pass-all allows all ingress")
    assert "its Pass sends all traffic past the default tier" in detail


def test_it_does_not_let_rules_with_match_criteria_or_a_log_reopen(source: Source) -> None:
    narrow = global_policy(
        "narrow",
        order=1,
        selector="all()",
        types=["Ingress"],
        ingress=[
            {"action": "Log"},
            {"action": "Allow", "protocol": "TCP", "destination": {"ports": [443]}},
            {"action": "Allow", "source": {"selector": "role == 'monitoring'"}},
        ],
    )
    inventory = source.collect(engineering_and_blog(narrow))

    assert run("network.default_deny_missing", inventory).status == Status.PASS


def test_it_defaults_types_from_the_rules_present(source: Source) -> None:
    # Only egress rules and no `types`: the policy is Egress only (networkpolicy reference).
    egress_only = global_policy(
        "egress-only",
        selector="all()",
        egress=[{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}}],
    )
    inventory = source.collect(engineering_and_blog(egress_only))

    assert run("network.default_deny_egress_missing", inventory).status == Status.PASS
    assert len(names(run("network.default_deny_missing", inventory))) == 3


def test_it_does_not_count_policies_of_a_tier_whose_order_it_cannot_see(source: Source) -> None:
    tiered = global_policy(
        "security.default-deny", tier="security", selector="all()", types=["Ingress"]
    )
    inventory = source.collect(engineering_and_blog(tiered))

    detail = detail_of(run("network.default_deny_missing", inventory), "blog")
    assert "Calico policies in tier security are not counted" in detail
    assert len(names(run("network.pods_unselected", inventory))) == 3


def test_it_lets_an_allow_all_in_another_tier_reopen(source: Source) -> None:
    tiered_allow = global_policy(
        "platform.allow-all", tier="platform", selector="all()", ingress=[{"action": "Allow"}]
    )
    default_deny = global_policy("default-deny", selector="all()", types=["Ingress", "Egress"])
    inventory = source.collect(engineering_and_blog(tiered_allow, default_deny))

    detail = detail_of(run("network.default_deny_missing", inventory), "blog")
    assert detail.startswith("Calico GlobalNetworkPolicy platform.allow-all allows all ingress")
    assert run("network.default_deny_egress_missing", inventory).status == Status.PASS


def test_it_ignores_host_endpoint_policies(source: Source) -> None:
    pre_dnat = global_policy(
        "host-pre-dnat",
        selector="all()",
        preDNAT=True,
        applyOnForward=True,
        types=["Ingress"],
    )
    inventory = source.collect(engineering_and_blog(pre_dnat))

    assert len(names(run("network.default_deny_missing", inventory))) == 3


def test_it_makes_a_namespace_unknown_when_a_selector_cannot_be_read(source: Source) -> None:
    broken = obj(NP, "broken", "blog", spec={"selector": "app = 'site'", "types": ["Ingress"]})
    default_deny = obj(NP, "default-deny", "engineering", spec={"selector": "all()"})
    inventory = source.collect(engineering_and_blog(broken, default_deny))

    outcome = run("network.default_deny_missing", inventory)
    assert names(outcome) == [("Namespace", "", "calico-system")]
    assert "blog: ingress cannot be judged" in outcome.summary
    assert "Calico NetworkPolicy blog/broken has a selector Rampart cannot read" in outcome.summary


def test_it_reads_the_v3_api_when_policies_are_native_v3_crds(source: Source) -> None:
    # Calico 3.31+ may store policies as projectcalico.org/v3 CRDs with no v1 CRDs at all.
    default_deny = global_policy(
        "default-deny", GNP_V3, selector="all()", types=["Ingress", "Egress"]
    )
    inventory = source.collect(engineering_and_blog(default_deny, crds_of=CALICO_V3))

    assert inventory.kind_status[GNP] == KindStatus.NOT_SERVED
    for check_id in POLICY_CHECKS:
        assert run(check_id, inventory).status == Status.PASS, check_id


def test_it_ignores_the_v3_api_beside_the_crds_that_store_the_policies(source: Source) -> None:
    # Beside the v1 CRDs, projectcalico.org/v3 is the aggregated API server showing the same
    # objects (its unfiltered list shows the default tier only): the CRDs are what counts.
    stored = global_policy("default-deny", selector="all()", types=["Ingress"])
    shown = global_policy("default-deny", GNP_V3, selector="all()", types=["Ingress"])
    inventory = source.collect(engineering_and_blog(stored, shown, crds_of=(*CALICO, *CALICO_V3)))

    assert run("network.default_deny_missing", inventory).summary == (
        "Every namespace denies ingress by default (Calico GlobalNetworkPolicy in 3)."
    )


def test_it_is_unknown_when_calico_policies_are_installed_but_forbidden(source: Source) -> None:
    inventory = source.collect(engineering_and_blog(), forbidden={GNP})

    for check_id in POLICY_CHECKS:
        outcome = run(check_id, inventory)
        assert outcome.status == Status.UNKNOWN, check_id
        assert "globalnetworkpolicies.crd.projectcalico.org forbidden" in outcome.summary


def test_it_is_unknown_when_calico_policies_are_installed_but_not_obtained(
    source: Source,
) -> None:
    inventory = source.collect(engineering_and_blog(), unreadable={NP})

    for check_id in POLICY_CHECKS:
        assert run(check_id, inventory).status == Status.UNKNOWN, check_id
