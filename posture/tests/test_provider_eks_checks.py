"""EKS provider checks on recorded describe_cluster JSON: a hardened and a default cluster."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from posture.checks.base import REGISTRY, CheckContext, Outcome, Status, run_check
from posture.tests.provider_data import provider_inventory, recording

TODAY = date(2026, 11, 26)
EKS_CHECKS = sorted(check_id for check_id in REGISTRY if check_id.startswith("provider.eks_"))


def run(check_id: str, document: dict[str, Any], **extras: Any) -> Outcome:
    inventory = provider_inventory("eks", document, **extras)
    return run_check(REGISTRY[check_id], inventory, CheckContext(today=TODAY)).outcome


def test_it_judges_each_eks_item() -> None:
    assert EKS_CHECKS == [
        "provider.eks_authentication_mode",
        "provider.eks_control_plane_logging",
        "provider.eks_nodegroup_ami",
        "provider.eks_nodegroup_versions",
        "provider.eks_private_endpoint",
        "provider.eks_public_endpoint",
        "provider.eks_secrets_encryption",
        "provider.eks_version_support",
    ]


def test_it_fails_nothing_on_a_hardened_cluster() -> None:
    cluster = recording("eks-hardened")
    versions = recording("eks-cluster-versions-1.34")
    found = {c: run(c, cluster, clusterVersions=versions).status for c in EKS_CHECKS}
    assert set(found.values()) == {Status.PASS}, found


def test_it_fails_every_weakness_of_a_default_cluster() -> None:
    found = {c: run(c, recording("eks-default")) for c in EKS_CHECKS}
    assert {c: o.status for c, o in found.items() if o.status != Status.FAIL} == {}
    assert found["provider.eks_public_endpoint"].summary == (
        "resourcesVpcConfig.endpointPublicAccess = true with resourcesVpcConfig.publicAccessCidrs "
        '= ["0.0.0.0/0"] (expected specific CIDR blocks, not 0.0.0.0/0)'
    )
    assert (
        "missing api, audit, authenticator" in found["provider.eks_control_plane_logging"].summary
    )
    assert 'accessConfig.authenticationMode = "CONFIG_MAP"' in (
        found["provider.eks_authentication_mode"].summary
    )


def test_it_lists_node_groups_one_by_one() -> None:
    outcome = run("provider.eks_nodegroup_versions", recording("eks-default"))
    details = {(a.kind, a.name): a.detail for a in outcome.affected}
    assert details == {
        ("NodeGroup", "legacy"): "nodegroups[legacy].version = 1.28 (control plane 1.29)",
        ("NodeGroup", "workers"): (
            "nodegroups[workers].releaseVersion = 1.29.10-20241105 (another node group of this "
            "AMI type runs 1.29.13-20250212)"
        ),
    }
    ami = run("provider.eks_nodegroup_ami", recording("eks-default"))
    assert len(ami.affected) == 3
    assert "reached end of support on 2025-11-26" in ami.affected[0].detail


def test_it_reads_eks_own_support_calendar_when_collected() -> None:
    cluster = recording("eks-default")
    versions = {
        "clusterVersions": [
            {
                "clusterVersion": "1.29",
                "versionStatus": "EXTENDED_SUPPORT",
                "endOfStandardSupportDate": "2025-03-23T00:00:00+00:00",
                "endOfExtendedSupportDate": "2026-03-23T00:00:00+00:00",
            }
        ]
    }
    outcome = run("provider.eks_version_support", cluster, clusterVersions=versions)
    assert outcome.status == Status.FAIL
    assert "versionStatus EXTENDED_SUPPORT" in outcome.summary
    assert 'upgradePolicy.supportType = "EXTENDED"' in outcome.summary


def test_it_falls_back_to_the_upstream_calendar_and_says_so() -> None:
    outcome = run("provider.eks_version_support", recording("eks-default"))
    assert outcome.status == Status.FAIL
    assert "upstream end of life on 2025-02-28" in outcome.summary
    assert "eks:DescribeClusterVersions" in outcome.summary


def test_it_does_not_judge_a_custom_ami() -> None:
    cluster = recording("eks-hardened")
    for group in cluster["nodegroups"]:
        group["amiType"] = "CUSTOM"
    assert run("provider.eks_nodegroup_ami", cluster).status == Status.UNKNOWN


def test_it_passes_a_public_endpoint_limited_to_specific_cidrs() -> None:
    cluster = recording("eks-default")
    cluster["resourcesVpcConfig"]["publicAccessCidrs"] = ["198.51.100.0/24"]
    assert run("provider.eks_public_endpoint", cluster).status == Status.PASS


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v1.34.2-eks-2d5f260", Status.UNKNOWN), ("v1.35.6-gke.1101000", Status.NOT_APPLICABLE)],
)
def test_it_is_unknown_on_eks_without_data_and_absent_elsewhere(version: str, expected) -> None:
    inventory = provider_inventory(None, version=version)
    outcome = run_check(REGISTRY["provider.eks_public_endpoint"], inventory, CheckContext())
    assert outcome.status == expected
