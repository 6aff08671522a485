"""Recorded provider JSON (clusters/tests/provider_json/) as inventories, for check tests.

The recordings are written from the documented REST shapes: GKE's `Cluster` resource as
`gcloud container clusters describe --format=json` prints it (camelCase, defaults omitted) and
EKS's `describe_cluster` `cluster` with its managed node groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from clusters.inventory import JSON, Inventory, KindStatus
from clusters.providers import EKS, GKE, PROVIDERS, provider_missing, provider_set

RECORDINGS = Path(__file__).resolve().parents[2] / "clusters" / "tests" / "provider_json"


def recording(name: str) -> JSON:
    document: JSON = orjson.loads((RECORDINGS / f"{name}.json").read_bytes())
    return document


def provider_inventory(
    kind: str | None,
    document: JSON | None = None,
    *,
    version: str = "",
    **extras: Any,
) -> Inventory:
    """An inventory holding one provider's document (or none), the other inputs not collected."""
    inventory = Inventory(source="test")
    if version:
        inventory.version = {"gitVersion": version}
    for provider in PROVIDERS.values():
        provider_missing(inventory, provider, KindStatus.NOT_COLLECTED, "not in this test")
    if kind is not None and document is not None:
        provider = {"gke": GKE, "eks": EKS}[kind]
        provider_set(inventory, provider, document, source="recorded JSON", **extras)
    return inventory
