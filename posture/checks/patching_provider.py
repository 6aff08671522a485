"""Patch judgement by the provider's own versions, where the provider's data says them.

GKE and EKS backport fixes into their own builds, so `v1.31.4-gke.1000` is not "N upstream
patches behind" just because upstream has 1.31.14 (hardening.md §5.2 step 5). When the
provider's data is in hand the patching checks judge by it instead:

    GKE control plane  `fetchClusterUpgradeInfo`: `patchTargetVersion` (the GKE build
                       auto-upgrade moves to) and `endOfStandardSupportTimestamp` /
                       `endOfExtendedSupportTimestamp` (GKE's own support window)
    GKE nodes          the control plane's GKE build (`currentMasterVersion`): node pools
                       are patched by moving to it, so a kubelet on that build is current
    EKS control plane  `describe_cluster_versions`: `versionStatus` and its end dates, and
                       `kubernetesPatchVersion` (the patch EKS ships for the minor)

Without that data the checks judge the upstream patch number and say the provider may have
backported fixes (posture.release_versions.Version.provider_note).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from clusters.inventory import Inventory
from clusters.providers import provider_entry
from posture.release_versions import Version, parse_version


def gke_build_key(version: Version) -> tuple[int, int, int, int]:
    """(major, minor, patch, GKE build number): GKE builds of one patch order by the number."""
    number = version.build.removeprefix("gke.") if version.build.startswith("gke.") else ""
    return (version.major, version.minor, version.patch, int(number) if number.isdigit() else 0)


def _date(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


@dataclass(frozen=True)
class ProviderVersionFacts:
    """What the provider says of a control-plane version, from its own data."""

    patch_target: Version | None = None  # GKE: the build auto-upgrade moves to
    standard_end: date | None = None
    extended_end: date | None = None
    status: str = ""  # EKS versionStatus: STANDARD_SUPPORT | EXTENDED_SUPPORT | UNSUPPORTED
    source: str = ""  # the field the facts come from, for the evidence


def control_plane_facts(inventory: Inventory, version: Version) -> ProviderVersionFacts | None:
    """The provider's own facts about the control plane's version, None when not collected."""
    if version.provider == "gke":
        info = (provider_entry(inventory, "gke") or {}).get("upgradeInfo")
        if not isinstance(info, dict):
            return None
        return ProviderVersionFacts(
            patch_target=parse_version(str(info.get("patchTargetVersion") or "")),
            standard_end=_date(info.get("endOfStandardSupportTimestamp")),
            extended_end=_date(info.get("endOfExtendedSupportTimestamp")),
            source="GKE fetchClusterUpgradeInfo",
        )
    if version.provider == "eks":
        extra = (provider_entry(inventory, "eks") or {}).get("clusterVersions")
        rows = extra.get("clusterVersions") if isinstance(extra, dict) else None
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and str(row.get("clusterVersion")) == version.minor_key:
                return ProviderVersionFacts(
                    # The Kubernetes patch EKS currently ships for this minor.
                    patch_target=parse_version(str(row.get("kubernetesPatchVersion") or "")),
                    standard_end=_date(row.get("endOfStandardSupportDate")),
                    extended_end=_date(row.get("endOfExtendedSupportDate")),
                    status=str(row.get("versionStatus") or row.get("status") or ""),
                    source="EKS describe_cluster_versions",
                )
    return None


def gke_node_target(inventory: Inventory) -> Version | None:
    """The control plane's GKE build, which node pools are patched by moving to."""
    entry = provider_entry(inventory, "gke")
    if entry is None:
        return None
    master = parse_version(str(entry["cluster"].get("currentMasterVersion") or ""))
    return master if master is not None and master.provider == "gke" else None
