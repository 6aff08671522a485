"""The check catalog, registered once when Django starts (posture.apps.PostureConfig.ready).

Each module below defines its checks with `@check(...)`; loading the catalog registers every
Check those modules hold, in one place, instead of relying on whichever module imported which.
"""

from __future__ import annotations

from importlib import import_module

from posture.checks.base import REGISTRY, Check, register

CHECK_MODULES = (
    "posture.checks.patching",
    "posture.checks.patching_nodes",
    "posture.checks.network",
    "posture.checks.network_dashboard",
    "posture.checks.access",
    "posture.checks.access_accounts",
    "posture.checks.access_permissions",
    "posture.checks.isolation",
    "posture.checks.container_hardening",
    "posture.checks.pod_security",
    "posture.checks.supply_chain",
    "posture.checks.supply_chain_admission",
    "posture.checks.supply_chain_miners",
    "posture.checks.provider_gke_access",
    "posture.checks.provider_gke_network",
    "posture.checks.provider_gke_nodes",
    "posture.checks.provider_gke_operations",
    "posture.checks.provider_eks",
    "posture.checks.node_benchmark",
)


def catalog_load() -> dict[str, Check]:
    """Register every check of CHECK_MODULES (idempotent) and return the registry."""
    for name in CHECK_MODULES:
        for value in vars(import_module(name)).values():
            if isinstance(value, Check):
                register(value)
    return REGISTRY
