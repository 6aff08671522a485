"""Cilium policies in the network checks, through a bundle and through the live API.

The policies are the Cilium documentation's own examples, written out by hand; each test names
its page. Cilium's rule (docs.cilium.io/en/stable/security/policy/intro/, "Endpoint default
policy"): a rule that selects an endpoint and has an ingress (egress) section puts it in default
deny for ingress (egress); `ingress: [{}]` is that section with a rule allowing nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from posture.checks.base import Status
from posture.tests.policy_engine_factories import (
    CILIUM,
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

CNP, CCNP = CILIUM


@pytest.fixture(params=["bundle", "live"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    return Source(request.param, tmp_path)


def shop_and_blog(*policies: dict, **extra: list[dict]) -> dict[str, list[dict]]:
    return cluster(
        namespace("shop"),
        namespace("blog"),
        namespace("kube-system"),
        deployment("shop", "web", app="web", role="frontend"),
        deployment("shop", "api", app="api"),
        deployment("blog", "site", app="site"),
        *policies,
        crds_of=CILIUM,
    )


def namespace_default_deny(ns: str) -> dict:
    # "Ingress/Egress Default Deny" (docs.cilium.io/en/stable/security/policy/language/), with
    # the empty endpointSelector that selects every endpoint of the policy's namespace.
    return obj(
        CNP,
        "default-deny",
        ns,
        spec={"endpointSelector": {}, "ingress": [{}], "egress": [{}]},
    )


def test_it_honours_a_namespace_default_deny_and_still_reports_a_namespace_without_one(
    source: Source,
) -> None:
    inventory = source.collect(shop_and_blog(namespace_default_deny("shop")))

    ingress = run("network.default_deny_missing", inventory)
    assert names(ingress) == [("Namespace", "", "blog")]
    assert detail_of(ingress, "blog") == (
        "no NetworkPolicy or CiliumNetworkPolicy denies ingress to every pod by default; nor egress"
    )
    egress = run("network.default_deny_egress_missing", inventory)
    assert names(egress) == [("Namespace", "", "blog")]
    unselected = run("network.pods_unselected", inventory)
    assert names(unselected) == [("Deployment", "blog", "site")]
    assert (
        "no NetworkPolicy or CiliumNetworkPolicy selects its pods" in unselected.affected[0].detail
    )


def test_it_passes_naming_the_engine_when_every_namespace_is_isolated(source: Source) -> None:
    policies = (namespace_default_deny("shop"), namespace_default_deny("blog"))
    inventory = source.collect(shop_and_blog(*policies))

    for check_id in POLICY_CHECKS:
        assert run(check_id, inventory).status == Status.PASS, check_id
    summary = run("network.default_deny_missing", inventory).summary
    assert summary == "Every namespace denies ingress by default (CiliumNetworkPolicy in 2)."


def test_it_judges_the_documented_deny_all_example_by_its_selector(source: Source) -> None:
    # "Ingress/Egress Default Deny", docs.cilium.io/en/stable/security/policy/language/:
    # deny-all-traffic selects role=frontend only, so it isolates those pods, not the namespace.
    deny_all_traffic = obj(
        CNP,
        "deny-all-traffic",
        "shop",
        spec={
            "endpointSelector": {"matchLabels": {"role": "frontend"}},
            "ingress": [{}],
            "egress": [{}],
        },
    )
    inventory = source.collect(shop_and_blog(deny_all_traffic))

    assert names(run("network.default_deny_missing", inventory)) == [
        ("Namespace", "", "blog"),
        ("Namespace", "", "shop"),
    ]
    assert names(run("network.pods_unselected", inventory)) == [
        ("Deployment", "blog", "site"),
        ("Deployment", "shop", "api"),
    ]


def test_it_reads_the_documented_clusterwide_default_deny_as_egress_only(source: Source) -> None:
    # "Default Deny Ingress Policy", docs.cilium.io/en/stable/network/servicemesh/
    # default-deny-ingress-policy/: every endpoint outside kube-system, with an egress section
    # only (DNS allowed), so by the enforcement rule egress is denied by default, ingress not.
    default_deny = obj(
        CCNP,
        "default-deny",
        spec={
            "description": "Block all the traffic (except DNS) by default",
            "egress": [
                {
                    "toEndpoints": [
                        {
                            "matchLabels": {
                                "io.kubernetes.pod.namespace": "kube-system",
                                "k8s-app": "kube-dns",
                            }
                        }
                    ],
                    "toPorts": [
                        {
                            "ports": [{"port": "53", "protocol": "UDP"}],
                            "rules": {"dns": [{"matchPattern": "*"}]},
                        }
                    ],
                }
            ],
            "endpointSelector": {
                "matchExpressions": [
                    {
                        "key": "io.kubernetes.pod.namespace",
                        "operator": "NotIn",
                        "values": ["kube-system"],
                    }
                ]
            },
        },
    )
    inventory = source.collect(shop_and_blog(default_deny))

    assert run("network.default_deny_egress_missing", inventory).summary == (
        "Every namespace denies egress by default (CiliumClusterwideNetworkPolicy in 2)."
    )
    ingress = run("network.default_deny_missing", inventory)
    assert names(ingress) == [("Namespace", "", "blog"), ("Namespace", "", "shop")]
    assert detail_of(ingress, "shop").endswith(
        "egress is denied by default by CiliumClusterwideNetworkPolicy default-deny"
    )
    assert run("network.pods_unselected", inventory).status == Status.PASS


def test_it_lets_a_rule_allowing_all_entities_reopen_a_default_deny(source: Source) -> None:
    # cilium-cli's connectivity test "allow-all" (connectivity/manifests/allow-all.yaml): every
    # endpoint, from and to the `all` entity. Allows add up across policies, Kubernetes
    # NetworkPolicies included, so the namespace has no default deny left.
    allow_all = obj(
        CNP,
        "allow-all",
        "shop",
        spec={
            "endpointSelector": {},
            "egress": [{"toEntities": ["all"]}],
            "ingress": [{"fromEntities": ["all"]}],
        },
    )
    kubernetes_deny = obj(
        "networkpolicies",
        "default-deny",
        "shop",
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    )
    inventory = source.collect(shop_and_blog(allow_all, kubernetes_deny))

    ingress = run("network.default_deny_missing", inventory)
    assert names(ingress) == [("Namespace", "", "blog"), ("Namespace", "", "shop")]
    assert detail_of(ingress, "shop").startswith(
        "CiliumNetworkPolicy shop/allow-all allows all ingress, so the default deny of "
        "NetworkPolicy shop/default-deny does not hold"
    )


def test_it_keeps_a_default_deny_whose_allow_all_is_limited_to_a_port(source: Source) -> None:
    web_port = obj(
        CNP,
        "web-from-anywhere",
        "shop",
        spec={
            "endpointSelector": {},
            "ingress": [
                {"fromEntities": ["all"], "toPorts": [{"ports": [{"port": "8080"}]}]},
            ],
        },
    )
    inventory = source.collect(shop_and_blog(web_port))

    assert names(run("network.default_deny_missing", inventory)) == [("Namespace", "", "blog")]


def test_it_lets_a_deny_of_everything_win_over_any_allow(source: Source) -> None:
    # "Deny Policies" (docs.cilium.io/en/stable/security/policy/deny/): deny rules take
    # precedence over allow rules, Kubernetes NetworkPolicies' included.
    deny_everything = obj(
        CNP,
        "quarantine",
        "shop",
        spec={"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["all"]}]},
    )
    kubernetes_allow_all = obj(
        "networkpolicies",
        "allow-all",
        "shop",
        spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
    )
    inventory = source.collect(shop_and_blog(deny_everything, kubernetes_allow_all))

    assert names(run("network.default_deny_missing", inventory)) == [("Namespace", "", "blog")]


def test_it_honours_the_enable_default_deny_opt_out(source: Source) -> None:
    # "Endpoint default policy", docs.cilium.io/en/stable/security/policy/intro/: intercept-all-
    # dns selects every endpoint outside kube-system but opts out of default deny (Cilium 1.15+).
    intercept_all_dns = obj(
        CCNP,
        "intercept-all-dns",
        spec={
            "endpointSelector": {
                "matchExpressions": [
                    {
                        "key": "io.kubernetes.pod.namespace",
                        "operator": "NotIn",
                        "values": ["kube-system"],
                    },
                    {"key": "k8s-app", "operator": "NotIn", "values": ["kube-dns"]},
                ]
            },
            "enableDefaultDeny": {"egress": False, "ingress": False},
            "egress": [
                {
                    "toEndpoints": [
                        {
                            "matchLabels": {
                                "io.kubernetes.pod.namespace": "kube-system",
                                "k8s-app": "kube-dns",
                            }
                        }
                    ],
                    "toPorts": [
                        {
                            "ports": [
                                {"port": "53", "protocol": "TCP"},
                                {"port": "53", "protocol": "UDP"},
                            ],
                            "rules": {"dns": [{"matchPattern": "*"}]},
                        }
                    ],
                }
            ],
        },
    )
    # The same opt-out on a policy selecting every pod of a namespace is named in the finding.
    opted_out = obj(
        CNP,
        "audit-only",
        "shop",
        spec={
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": False},
            "ingress": [{"fromEndpoints": [{}]}],
        },
    )
    inventory = source.collect(shop_and_blog(intercept_all_dns, opted_out))

    egress = run("network.default_deny_egress_missing", inventory)
    assert names(egress) == [("Namespace", "", "blog"), ("Namespace", "", "shop")]
    ingress = run("network.default_deny_missing", inventory)
    assert detail_of(ingress, "shop").startswith(
        "no NetworkPolicy or CiliumNetworkPolicy denies ingress to every pod by default "
        "(CiliumNetworkPolicy shop/audit-only sets enableDefaultDeny.ingress: false)"
    )
    assert len(names(run("network.pods_unselected", inventory))) == 3


def test_it_ignores_host_policies(source: Source) -> None:
    # A host policy (docs.cilium.io/en/stable/security/policy/language/, "Host Policies")
    # selects nodes by nodeSelector, never pods.
    host_policy = obj(
        CCNP,
        "demo-host-policy",
        spec={
            "nodeSelector": {"matchLabels": {"node-access": "ssh"}},
            "ingress": [{"fromEntities": ["cluster"]}],
        },
    )
    inventory = source.collect(shop_and_blog(host_policy))

    assert len(names(run("network.default_deny_missing", inventory))) == 2
    assert len(names(run("network.pods_unselected", inventory))) == 3


def test_it_reads_every_rule_of_a_specs_list(source: Source) -> None:
    # A CiliumNetworkPolicy may carry `specs`, a list of rules, instead of `spec`: the trim
    # must keep it on both paths, or the policy would read as empty.
    two_rules = obj(
        CNP,
        "two-rules",
        "blog",
        specs=[
            {"endpointSelector": {"matchLabels": {"app": "site"}}, "ingress": [{}]},
            {"endpointSelector": {}, "egress": [{}]},
        ],
    )
    inventory = source.collect(shop_and_blog(namespace_default_deny("shop"), two_rules))

    assert run("network.default_deny_egress_missing", inventory).status == Status.PASS
    assert names(run("network.default_deny_missing", inventory)) == [("Namespace", "", "blog")]
    assert run("network.pods_unselected", inventory).status == Status.PASS


def test_it_selects_by_source_prefixed_and_namespace_labels(source: Source) -> None:
    # Selector keys may carry Cilium's label source (`k8s:`, `any:`); a clusterwide policy may
    # select namespaces by their labels (io.cilium.k8s.namespace.labels.<key>).
    by_team = obj(
        CCNP,
        "team-shop",
        spec={
            "endpointSelector": {
                "matchLabels": {"k8s:io.cilium.k8s.namespace.labels.team": "shop"}
            },
            "ingress": [{}],
        },
    )
    by_app = obj(
        CCNP,
        "site",
        spec={"endpointSelector": {"matchLabels": {"any:app": "site"}}, "ingress": [{}]},
    )
    objects = shop_and_blog(by_team, by_app)
    objects["namespaces"][0]["metadata"]["labels"]["team"] = "shop"
    inventory = source.collect(objects)

    assert names(run("network.default_deny_missing", inventory)) == [("Namespace", "", "blog")]
    assert run("network.pods_unselected", inventory).status == Status.PASS


def test_it_is_unknown_when_cilium_policies_are_installed_but_forbidden(source: Source) -> None:
    inventory = source.collect(shop_and_blog(), forbidden={CNP})

    for check_id in POLICY_CHECKS:
        outcome = run(check_id, inventory)
        assert outcome.status == Status.UNKNOWN, check_id
        assert "ciliumnetworkpolicies.cilium.io forbidden" in outcome.summary


def test_it_is_unknown_when_cilium_policies_are_installed_but_not_obtained(
    source: Source,
) -> None:
    inventory = source.collect(shop_and_blog(namespace_default_deny("shop")), unreadable={CCNP})

    for check_id in POLICY_CHECKS:
        assert run(check_id, inventory).status == Status.UNKNOWN, check_id
