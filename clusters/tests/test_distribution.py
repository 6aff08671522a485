"""Which managed control plane a cluster is: provider data, the version string, node labels."""

from __future__ import annotations

import pytest

from clusters.distribution import distribution_of, from_version
from clusters.inventory import Inventory
from clusters.providers import GKE, provider_set


def inventory(version: str = "", *node_labels: dict[str, str]) -> Inventory:
    found = Inventory()
    if version:
        found.version = {"gitVersion": version}
    if node_labels:
        found.set_objects(
            "nodes",
            [
                {"metadata": {"name": f"n{i}", "labels": labels}}
                for i, labels in enumerate(node_labels)
            ],
        )
    return found


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v1.31.4-gke.1000", "gke"),
        ("v1.30.8-eks-2d5f260", "eks"),
        ("v1.31.4", "other"),
        ("v1.29.3+k3s1", "other"),
        ("", ""),
    ],
)
def test_it_reads_the_version_string(version: str, expected: str) -> None:
    assert from_version(version) == expected
    assert distribution_of(inventory(version)) == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("cloud.google.com/gke-nodepool", "gke"),
        ("eks.amazonaws.com/nodegroup", "eks"),
        ("eks.amazonaws.com/compute-type", "eks"),
        ("kubernetes.azure.com/cluster", "aks"),
    ],
)
def test_it_reads_node_labels_when_the_version_is_upstream(label: str, expected: str) -> None:
    # AKS serves upstream versions: only its nodes say it is AKS.
    assert distribution_of(inventory("v1.31.4", {"kubernetes.io/os": "linux"}, {label: "x"})) == (
        expected
    )


def test_it_calls_labelled_nodes_of_no_provider_other() -> None:
    assert distribution_of(inventory("", {"kubernetes.io/hostname": "edge-1"})) == "other"


def test_it_trusts_provider_data_first() -> None:
    found = inventory("v1.31.4")
    provider_set(found, GKE, {"name": "c", "currentMasterVersion": "1.31.4"}, source="test")
    assert distribution_of(found) == "gke"
