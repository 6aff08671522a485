"""Patching judged by the provider's own builds and calendars when its data is in hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clusters.inventory import Inventory
from posture.checks.base import REGISTRY, CheckContext, Outcome, Status, run_check
from posture.tests.provider_data import provider_inventory, recording

TODAY = date(2026, 11, 26)
MASTER = "v1.35.6-gke.1101000"


@pytest.fixture(autouse=True)
def bundled_catalog_only(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path


def run(check_id: str, inventory: Inventory) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext(today=TODAY)).outcome


def gke(**upgrade_info: Any) -> Inventory:
    extras = {"upgradeInfo": upgrade_info} if upgrade_info else {}
    return provider_inventory("gke", recording("gke-hardened"), version=MASTER, **extras)


def with_nodes(inventory: Inventory, *kubelets: str) -> Inventory:
    inventory.set_objects(
        "nodes",
        [
            {
                "metadata": {"name": f"node-{index}"},
                "status": {"nodeInfo": {"kubeletVersion": kubelet, "operatingSystem": "linux"}},
            }
            for index, kubelet in enumerate(kubelets)
        ],
    )
    return inventory


def test_it_judges_the_gke_control_plane_against_gke_s_patch_target() -> None:
    behind = run("patching.control_plane_patch", gke(patchTargetVersion="1.35.6-gke.1250000"))
    assert behind.status == Status.FAIL
    assert behind.summary == (
        "v1.35.6-gke.1101000: GKE's patch target is 1.35.6-gke.1250000 "
        "(GKE fetchClusterUpgradeInfo patchTargetVersion)"
    )
    current = run("patching.control_plane_patch", gke(patchTargetVersion="1.35.6-gke.1101000"))
    assert current.status == Status.PASS  # upstream's 1.35.8 does not make a GKE build behind


def test_it_falls_back_to_upstream_with_the_backport_note_without_gke_data() -> None:
    outcome = run("patching.control_plane_patch", gke())
    assert outcome.status == Status.FAIL
    assert "backported" in outcome.summary


def test_it_judges_end_of_life_by_gke_s_own_support_window() -> None:
    ended = gke(endOfStandardSupportTimestamp="2026-10-01T00:00:00Z")
    assert run("patching.control_plane_eol", ended).status == Status.FAIL
    extended = gke(
        endOfStandardSupportTimestamp="2026-10-01T00:00:00Z",
        endOfExtendedSupportTimestamp="2027-10-01T00:00:00Z",
    )
    outcome = run("patching.control_plane_eol", extended)
    assert outcome.status == Status.PASS
    assert "extended support until 2027-10-01" in outcome.summary


def test_it_judges_an_eks_control_plane_by_eks_version_status() -> None:
    versions = {
        "clusterVersions": [
            {
                "clusterVersion": "1.29",
                "versionStatus": "UNSUPPORTED",
                "endOfExtendedSupportDate": "2026-03-23T00:00:00+00:00",
            }
        ]
    }
    inventory = provider_inventory(
        "eks", recording("eks-default"), version="v1.29.15-eks-0e9e3d5", clusterVersions=versions
    )
    outcome = run("patching.control_plane_eol", inventory)
    assert outcome.status == Status.FAIL
    assert "EKS describe_cluster_versions: UNSUPPORTED" in outcome.summary


def test_it_judges_gke_nodes_against_the_control_plane_s_gke_build() -> None:
    inventory = with_nodes(gke(), MASTER, "v1.35.6-gke.1000000")
    outcome = run("patching.kubelet_behind", inventory)
    assert outcome.status == Status.FAIL
    assert [(a.name, a.detail) for a in outcome.affected] == [
        (
            "node-1",
            "kubelet v1.35.6-gke.1000000: behind the control plane's GKE build 1.35.6-gke.1101000",
        )
    ]


def test_it_judges_an_eks_control_plane_against_the_patch_eks_ships() -> None:
    versions = {"clusterVersions": [{"clusterVersion": "1.34", "kubernetesPatchVersion": "1.34.2"}]}
    inventory = provider_inventory(
        "eks", recording("eks-hardened"), version="v1.34.2-eks-b23e7b4", clusterVersions=versions
    )
    outcome = run("patching.control_plane_patch", inventory)
    assert outcome.status == Status.PASS  # though upstream has 1.34.11
    assert "EKS describe_cluster_versions kubernetesPatchVersion 1.34.2" in outcome.summary
