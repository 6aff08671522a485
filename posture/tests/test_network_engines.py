"""Every engine together: no policy of any kind is still reported, engines absent change nothing,
and a policy kind installed but unread never lets a check pass or fail. Bundle and live paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.collection import finished_run_fields
from clusters.inventory import KindStatus
from clusters.models import CollectionRun
from posture.checks.base import REGISTRY, CheckContext, Status
from posture.tests.policy_engine_factories import (
    CALICO,
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
CALICO_NP, CALICO_GNP = CALICO


@pytest.fixture(params=["bundle", "live"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    return Source(request.param, tmp_path)


def three_teams(*policies: dict, crds_of: tuple[str, ...] = (*CILIUM, *CALICO)) -> dict:
    return cluster(
        namespace("shop"),
        namespace("blog"),
        namespace("empty"),
        deployment("shop", "web"),
        deployment("blog", "site"),
        deployment("empty", "lonely"),
        *policies,
        crds_of=crds_of,
    )


def test_it_still_reports_a_namespace_no_engine_has_a_policy_for(source: Source) -> None:
    kubernetes = obj(
        "networkpolicies",
        "default-deny",
        "shop",
        spec={"podSelector": {}, "policyTypes": ["Ingress"]},
    )
    cilium = obj(CNP, "default-deny", "blog", spec={"endpointSelector": {}, "ingress": [{}]})
    calico = obj(CALICO_NP, "default-deny", "blog", spec={"selector": "all()"})
    inventory = source.collect(three_teams(kubernetes, cilium, calico))

    ingress = run("network.default_deny_missing", inventory)
    assert names(ingress) == [("Namespace", "", "empty")]
    assert detail_of(ingress, "empty") == (
        "no NetworkPolicy, CiliumNetworkPolicy or Calico policy denies ingress to every pod by "
        "default; nor egress"
    )
    assert names(run("network.pods_unselected", inventory)) == [("Deployment", "empty", "lonely")]


def test_it_judges_as_before_when_no_engine_is_installed(source: Source) -> None:
    kubernetes = obj(
        "networkpolicies",
        "default-deny",
        "shop",
        spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    )
    inventory = source.collect(three_teams(kubernetes, crds_of=()))

    assert {inventory.kind_status[key] for key in (*CILIUM, *CALICO)} == {KindStatus.NOT_SERVED}
    assert finished_run_fields(inventory)["status"] == CollectionRun.Status.SUCCEEDED
    ingress = run("network.default_deny_missing", inventory)
    assert names(ingress) == [("Namespace", "", "blog"), ("Namespace", "", "empty")]
    assert detail_of(ingress, "blog") == (
        "no NetworkPolicy denies ingress to every pod by default; nor egress"
    )
    assert len(names(run("network.pods_unselected", inventory))) == 2
    assert run("network.default_deny_egress_missing", inventory).status == Status.FAIL


def test_it_no_longer_counts_a_kubernetes_default_deny_another_policy_reopens(
    source: Source,
) -> None:
    # NetworkPolicy rules add up: an allow-all policy for every pod voids the default deny.
    deny = obj(
        "networkpolicies", "deny", "shop", spec={"podSelector": {}, "policyTypes": ["Ingress"]}
    )
    allow = obj(
        "networkpolicies",
        "allow-all",
        "shop",
        spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]},
    )
    inventory = source.collect(three_teams(deny, allow, crds_of=()))

    assert detail_of(run("network.default_deny_missing", inventory), "shop").startswith(
        "NetworkPolicy shop/allow-all allows all ingress, so the default deny of NetworkPolicy "
        "shop/deny does not hold"
    )


@pytest.mark.parametrize("key", [CNP, CALICO_GNP])
def test_it_never_judges_without_an_installed_kind_even_when_called_directly(
    source: Source, key: str
) -> None:
    # The check guards itself too, whatever the runner does with its needs.
    inventory = source.collect(three_teams(), forbidden={key})

    for check_id in POLICY_CHECKS:
        outcome = REGISTRY[check_id].evaluate(inventory, CheckContext())
        assert outcome.status == Status.UNKNOWN, check_id
        assert outcome.summary.startswith("Policy-engine policies could not be read")
        assert key in outcome.summary


def test_it_does_not_take_engine_crds_for_a_running_engine(source: Source) -> None:
    cilium = obj(CNP, "default-deny", "blog", spec={"endpointSelector": {}, "ingress": [{}]})
    inventory = source.collect(three_teams(cilium, crds_of=CILIUM))

    outcome = run("network.cni_policy_support", inventory)
    assert outcome.status == Status.FAIL
    assert (
        "Cilium (1 policies) policy CRDs are installed, but that does not show the engine runs"
        in (outcome.affected[0].detail)
    )


def test_it_finds_the_engine_by_its_agent(source: Source) -> None:
    agent = obj(
        "daemonsets",
        "cilium",
        "kube-system",
        spec={"template": {"metadata": {"labels": {"k8s-app": "cilium"}}, "spec": {}}},
    )
    inventory = source.collect(three_teams(agent, crds_of=CILIUM))

    assert run("network.cni_policy_support", inventory).status == Status.PASS
