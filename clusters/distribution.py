"""Which distribution a cluster is: a managed control plane (GKE, EKS, AKS) or anything else.

Recognised, most certain first, from what one collection saw:

    provider data      a GKE Cluster resource or an EKS description was read for it
    the version        `/version` gitVersion with a provider build: `v1.31.4-gke.1000`,
                       `v1.30.8-eks-2d5f260` (AKS serves upstream versions, so only its nodes tell)
    node labels        `cloud.google.com/gke-nodepool`, `eks.amazonaws.com/nodegroup` (or
                       `eks.amazonaws.com/compute-type`, Fargate), `kubernetes.azure.com/cluster`

"" means nothing was collected to tell (assume nothing); "other" is a cluster seen to be none of
them (kubeadm, k3s, ...). The run stores the answer (CollectionRun.distribution), so deriving a
stored evaluation again reads the same distribution the collection judged with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from clusters.inventory import Inventory

GKE, EKS, AKS, OTHER = "gke", "eks", "aks", "other"
LABELS = {GKE: "GKE", EKS: "Amazon EKS", AKS: "AKS", OTHER: "not a GKE, EKS or AKS build"}
MANAGED = (GKE, EKS, AKS)
_VERSION_MARKS = ((GKE, "-gke."), (EKS, "-eks-"))
_NODE_LABELS = (
    (GKE, ("cloud.google.com/gke-nodepool",)),
    (EKS, ("eks.amazonaws.com/nodegroup", "eks.amazonaws.com/compute-type")),
    (AKS, ("kubernetes.azure.com/cluster",)),
)


def from_version(kubernetes_version: str) -> str:
    """The distribution a version string names; "other" for any other version, "" for none."""
    if not kubernetes_version:
        return ""
    for name, mark in _VERSION_MARKS:
        if mark in kubernetes_version:
            return name
    return OTHER


def from_node_labels(labels: Iterable[Mapping[str, Any]]) -> str:
    """The distribution the first recognisable node's labels name; "" when none does."""
    for node_labels in labels:
        for name, keys in _NODE_LABELS:
            if any(key in node_labels for key in keys):
                return name
    return ""


def distribution_of(inventory: Inventory) -> str:
    """The inventory's distribution; computed once per inventory (checks ask many times)."""
    return inventory.derived("distribution", _distribution)


def _distribution(inventory: Inventory) -> str:
    for name in (GKE, EKS):
        if name in inventory.provider:
            return name
    version = from_version(inventory.git_version or "")
    if version not in ("", OTHER):
        return version
    if inventory.in_hand("nodes"):
        nodes = inventory.objects.get("nodes", [])
        labelled = from_node_labels(
            (node.get("metadata") or {}).get("labels") or {} for node in nodes
        )
        if labelled:
            return labelled
        if nodes:
            return OTHER
    return version
