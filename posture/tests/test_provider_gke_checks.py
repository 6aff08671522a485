"""GKE provider checks on recorded Cluster resources: hardened, 2018 defaults, Autopilot."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from posture.checks.base import REGISTRY, CheckContext, Outcome, Status, run_check
from posture.tests.provider_data import provider_inventory, recording

TODAY = date(2026, 11, 26)
GKE_CHECKS = sorted(check_id for check_id in REGISTRY if check_id.startswith("provider.gke_"))
# Informational rows: Shared VPC and Autopilot are designs, not weaknesses of a cluster.
INFORMATIONAL = {"provider.gke_autopilot"}


def run(check_id: str, document: dict[str, Any], **extras: Any) -> Outcome:
    inventory = provider_inventory("gke", document, **extras)
    return run_check(REGISTRY[check_id], inventory, CheckContext(today=TODAY)).outcome


def statuses(document: dict[str, Any]) -> dict[str, Status]:
    return {check_id: run(check_id, document).status for check_id in GKE_CHECKS}


def test_it_defines_a_check_for_each_gke_side_row() -> None:
    assert len(GKE_CHECKS) >= 30


def test_it_fails_nothing_on_a_hardened_cluster() -> None:
    found = statuses(recording("gke-hardened"))
    wrong = {check_id: status for check_id, status in found.items() if status != Status.PASS}
    assert wrong == {"provider.gke_autopilot": Status.NOT_APPLICABLE}


def test_it_fails_every_weakness_of_a_2018_default_cluster() -> None:
    found = statuses(recording("gke-default-2018"))
    not_failing = {c: s for c, s in found.items() if s != Status.FAIL and c not in INFORMATIONAL}
    assert not_failing == {}


def test_it_says_the_field_path_and_value_it_judged() -> None:
    legacy = recording("gke-default-2018")
    assert run("provider.gke_legacy_abac", legacy).summary == (
        "legacyAbac.enabled = true (expected false or absent)"
    )
    assert run("provider.gke_legacy_abac", recording("gke-hardened")).summary == (
        "legacyAbac.enabled = absent"
    )
    channel = run("provider.gke_release_channel", legacy)
    assert "releaseChannel.channel = absent (expected RAPID or REGULAR" in channel.summary


def test_it_never_shows_a_basic_auth_password() -> None:
    outcome = run("provider.gke_basic_auth", recording("gke-default-2018"))
    assert outcome.status == Status.FAIL
    text = outcome.summary + " ".join(item.detail for item in outcome.affected)
    assert "masterAuth.password" in text
    assert "c2VjcmV0" not in text


def test_it_lists_node_pools_one_by_one() -> None:
    cluster = recording("gke-hardened")
    cluster["nodePools"][1]["management"]["autoUpgrade"] = False
    outcome = run("provider.gke_node_auto_upgrade", cluster)
    assert outcome.status == Status.FAIL
    assert [(a.kind, a.name, a.detail) for a in outcome.affected] == [
        ("NodePool", "apps", "nodePools[apps].management.autoUpgrade = false (expected true)")
    ]


def test_it_judges_node_auto_provisioning_defaults_as_one_more_object() -> None:
    cluster = recording("gke-hardened")
    cluster["autoscaling"]["autoprovisioningNodePoolDefaults"]["serviceAccount"] = "default"
    outcome = run("provider.gke_node_service_account", cluster)
    assert outcome.status == Status.FAIL
    assert {(a.kind, a.name) for a in outcome.affected} == {
        ("NodePoolDefaults", "autoprovisioning")
    }
    assert outcome.controls["service_account"].status == Status.FAIL
    assert outcome.controls["access_scopes"].status == Status.FAIL  # default SA + cloud-platform


def test_it_treats_autopilot_managed_settings_as_provider_owned() -> None:
    found = statuses(recording("gke-autopilot"))
    owned = {
        "provider.gke_legacy_abac",
        "provider.gke_basic_auth",
        "provider.gke_client_certificate",
        "provider.gke_workload_identity",
        "provider.gke_metadata_protection",
        "provider.gke_node_auto_upgrade",
        "provider.gke_node_auto_repair",
        "provider.gke_release_channel",
        "provider.gke_image_type",
        "provider.gke_shielded_nodes",
    }
    assert {c for c, s in found.items() if s == Status.NOT_APPLICABLE} == owned
    reason = run("provider.gke_shielded_nodes", recording("gke-autopilot")).summary
    assert reason.startswith("Provider-owned: autopilot.enabled = true")
    # What the customer still chooses on Autopilot is judged: the default node service account,
    # no Binary Authorization, no Secrets encryption, vulnerability scanning off.
    assert {c for c, s in found.items() if s == Status.FAIL} == {
        "provider.gke_node_service_account",
        "provider.gke_binary_authorization",
        "provider.gke_secrets_encryption",
        "provider.gke_security_posture",
        "provider.gke_boot_disk_cmek",
        "provider.gke_confidential_nodes",
        "provider.gke_google_groups_rbac",
        "provider.gke_security_bulletins",
        "provider.gke_shared_vpc",
    }


def test_it_passes_a_public_endpoint_guarded_by_authorized_networks_but_fails_its_control() -> None:
    outcome = run("provider.gke_control_plane_access", recording("gke-autopilot"))
    assert outcome.status == Status.PASS
    assert "203.0.113.0/24" in outcome.summary
    assert outcome.controls["private_endpoint"].status == Status.FAIL
    assert "34.86.12.201" in outcome.controls["private_endpoint"].summary
    assert outcome.controls["authorized_networks"].status == Status.PASS


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_it_fails_authorized_networks_that_admit_everyone(cidr: str) -> None:
    cluster = recording("gke-autopilot")
    cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"].append({"cidrBlock": cidr})
    outcome = run("provider.gke_control_plane_access", cluster)
    assert outcome.status == Status.FAIL
    assert cidr in outcome.summary


def test_it_passes_a_dns_only_control_plane() -> None:
    cluster = recording("gke-default-2018")
    cluster["controlPlaneEndpointsConfig"] = {"ipEndpointsConfig": {"enabled": False}}
    outcome = run("provider.gke_control_plane_access", cluster)
    assert outcome.status == Status.PASS
    assert outcome.controls["authorized_networks"].status == Status.NOT_APPLICABLE


def test_it_leaves_windows_pools_out_of_the_node_image_check() -> None:
    cluster = recording("gke-hardened")
    windows = copy.deepcopy(cluster["nodePools"][1])
    windows["name"] = "win"
    windows["config"]["imageType"] = "WINDOWS_LTSC_CONTAINERD"
    cluster["nodePools"].append(windows)
    assert run("provider.gke_image_type", cluster).status == Status.PASS


def test_it_judges_node_pools_by_gke_build_not_upstream_patch() -> None:
    cluster = recording("gke-hardened")
    cluster["nodePools"][1]["version"] = "1.35.6-gke.1000000"  # same upstream patch, older build
    outcome = run("provider.gke_node_pool_versions", cluster)
    assert outcome.status == Status.FAIL
    assert outcome.affected[0].detail == (
        "nodePools[apps].version = 1.35.6-gke.1000000 "
        "(control plane currentMasterVersion 1.35.6-gke.1101000)"
    )


def test_it_is_unknown_on_a_gke_cluster_without_provider_data() -> None:
    inventory = provider_inventory(None, version="v1.35.6-gke.1101000")
    results = [run_check(REGISTRY[c], inventory, CheckContext(today=TODAY)) for c in GKE_CHECKS]
    assert {r.status for r in results} == {Status.UNKNOWN}
    assert "gke-cluster not collected" in results[0].outcome.summary


@pytest.mark.parametrize("version", ["v1.35.8", "v1.34.2-eks-2d5f260"])
def test_it_does_not_apply_to_other_distributions(version: str) -> None:
    inventory = provider_inventory(None, version=version)
    outcome = run_check(REGISTRY["provider.gke_legacy_abac"], inventory, CheckContext())
    assert outcome.status == Status.NOT_APPLICABLE
    assert outcome.outcome.summary.startswith("GKE clusters only; this cluster is")
