"""Provider control-plane data: a managed cluster's own description, beside the Kubernetes API.

Half of a managed cluster's hardening lives in its provider's API, not in Kubernetes: GKE's
`Cluster` resource (node pools included) and EKS's cluster and node groups. Each provider's
document is an extra input (clusters.resources.extra_input): checks name its key in `needs`,
so without it they are unknown with the reason and their checklist items stay manual.

    GKE  `gke-cluster`  the REST resource, camelCase, as
                        `gcloud container clusters describe NAME --format=json` prints it
    EKS  `eks-cluster`  `describe_cluster`'s `cluster` with a `nodegroups` list of
                        `describe_nodegroup`'s `nodegroup`s (what `aws eks describe-cluster`
                        prints is accepted too: its `{"cluster": ...}` is unwrapped)

A collection takes each provider's document from the first of (clusters.sources):

    the run's evidence bundle   gke-cluster.json / eks-cluster.json: the same moment as the rest
    the cluster's provider link read live in the same run (clusters/providers/gke.py, eks.py)
    an uploaded document        the JSON last uploaded on the cluster page, until replaced

A link that fails leaves the input FORBIDDEN or ERROR with a one-line reason: an older upload
is not used in its place, so a stale document never passes a check the live API could fail.
Nothing here fails the Kubernetes part of a run.

`Inventory.provider` holds one entry per provider read: `{"gke": {"cluster": {...},
"source": "...", ...}}`; checks read it through `provider_document` once their needs are met.
This module imports no cloud SDK: `Provider.source()` loads a provider's client module only
when a link is read, so the web process never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Protocol

from clusters.inventory import JSON, Inventory, KindStatus
from clusters.resources import ExtraInput, extra_input

GKE_CLUSTER = extra_input(
    "gke-cluster", "the GKE Cluster resource (gcloud container clusters describe --format=json)"
)
EKS_CLUSTER = extra_input(
    "eks-cluster", "the EKS cluster and its managed node groups (eks describe-cluster)"
)


class ProviderError(Exception):
    """The provider could not be read; the message is one line, never a credential."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(one_line(message))
        self.forbidden = forbidden


class ProviderSource(Protocol):
    """Reads one provider's document for a cluster's link, in the bundle file's JSON shape."""

    def fetch(self, link: Any, *, timeout: float) -> JSON:
        """The provider's document (plus optional extras, see Provider.extras). Raises
        ProviderError with a one-line reason; never returns a partial document."""
        ...


@dataclass(frozen=True)
class Provider:
    kind: str  # "gke": also the key of Inventory.provider and of ProviderLink.Kind
    label: str
    input: ExtraInput
    bundle_file: str
    source_module: str  # holds SOURCE: a ProviderSource
    normalise: Callable[[JSON], JSON]
    problem: Callable[[JSON], str | None]
    # Optional evidence beside the document: bundle file -> key in the provider entry.
    extras: Mapping[str, str]

    def source(self) -> ProviderSource:
        source: ProviderSource = import_module(self.source_module).SOURCE
        return source


def one_line(text: str, limit: int = 300) -> str:
    """A message on one line, at most `limit` characters: run records show it as is."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _gke_normalise(document: JSON) -> JSON:
    return document


def _gke_problem(document: JSON) -> str | None:
    if not isinstance(document.get("name"), str) or not document["name"]:
        return "it has no `name`: not a GKE Cluster resource"
    if not isinstance(document.get("currentMasterVersion"), str):
        return "it has no `currentMasterVersion`: not a GKE Cluster resource"
    pools = document.get("nodePools", [])
    if not isinstance(pools, list) or not all(isinstance(pool, dict) for pool in pools):
        return "`nodePools` is not a list of node pools"
    return None


def _eks_normalise(document: JSON) -> JSON:
    wrapped = document.get("cluster")
    if isinstance(wrapped, dict):
        # `aws eks describe-cluster` output; node groups may sit beside it.
        unwrapped = dict(wrapped)
        if "nodegroups" in document and "nodegroups" not in unwrapped:
            unwrapped["nodegroups"] = document["nodegroups"]
        return unwrapped
    return document


def _eks_problem(document: JSON) -> str | None:
    if not isinstance(document.get("name"), str) or not document["name"]:
        return "it has no `name`: not an EKS cluster description"
    if not isinstance(document.get("version"), str):
        return "it has no `version`: not an EKS cluster description"
    groups = document.get("nodegroups", [])
    if not isinstance(groups, list) or not all(isinstance(group, dict) for group in groups):
        return "`nodegroups` is not a list of node groups"
    return None


GKE = Provider(
    kind="gke",
    label="GKE",
    input=GKE_CLUSTER,
    bundle_file="gke-cluster.json",
    source_module="clusters.providers.gke",
    normalise=_gke_normalise,
    problem=_gke_problem,
    # `fetchClusterUpgradeInfo`: GKE's own patch target and end-of-support dates.
    extras={"gke-upgrade-info.json": "upgradeInfo"},
)
EKS = Provider(
    kind="eks",
    label="EKS",
    input=EKS_CLUSTER,
    bundle_file="eks-cluster.json",
    source_module="clusters.providers.eks",
    normalise=_eks_normalise,
    problem=_eks_problem,
    # `describe_cluster_versions` for the cluster's version: EKS's own support status.
    extras={"eks-cluster-versions.json": "clusterVersions"},
)
PROVIDERS: dict[str, Provider] = {provider.kind: provider for provider in (GKE, EKS)}
BY_BUNDLE_FILE: dict[str, Provider] = {p.bundle_file: p for p in PROVIDERS.values()}
BY_EXTRA_FILE: dict[str, tuple[Provider, str]] = {
    name: (p, key) for p in PROVIDERS.values() for name, key in p.extras.items()
}


class DocumentError(ValueError):
    """An uploaded or bundled document that is not the provider's JSON; one line."""


def document_checked(provider: Provider, document: Any, *, where: str) -> JSON:
    """The normalised document, or DocumentError saying in one line what is wrong with it."""
    if not isinstance(document, dict):
        raise DocumentError(f"{where} is not a JSON object")
    normalised = provider.normalise(document)
    problem = provider.problem(normalised)
    if problem:
        raise DocumentError(f"{where}: {problem}")
    return normalised


def provider_set(
    inventory: Inventory, provider: Provider, document: JSON, *, source: str, **extras: Any
) -> None:
    """Record a provider's document as collected: its input is OK from here on."""
    entry: JSON = {"cluster": document, "source": source}
    entry.update({key: value for key, value in extras.items() if value is not None})
    inventory.provider[provider.kind] = entry
    inventory.kind_status[provider.input.key] = KindStatus.OK
    inventory.kind_errors.pop(provider.input.key, None)
    inventory.forget_derived()


def provider_missing(
    inventory: Inventory, provider: Provider, status: KindStatus, reason: str
) -> None:
    inventory.provider.pop(provider.kind, None)
    inventory.kind_status[provider.input.key] = status
    inventory.kind_errors[provider.input.key] = one_line(reason)
    inventory.forget_derived()


def provider_entry(inventory: Inventory, kind: str) -> JSON | None:
    """A provider's entry ({"cluster", "source", extras}), None when it was not collected."""
    return inventory.provider.get(kind)


def collected_document(inventory: Inventory, kind: str) -> JSON | None:
    """The provider's cluster document when it was collected, else None (checks that only
    use it as extra evidence, beside the Kubernetes API)."""
    entry = inventory.provider.get(kind)
    return entry["cluster"] if entry is not None else None


def provider_document(inventory: Inventory, kind: str) -> JSON:
    """The provider's cluster document. Callers declare its input in `needs`, so it is there."""
    entry = inventory.provider.get(kind)
    if entry is None:
        raise KeyError(f"no {kind} provider data in this inventory")
    document: JSON = entry["cluster"]
    return document
