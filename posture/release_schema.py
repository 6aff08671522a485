"""The release catalog's entries and their validation: minors, CVEs and runtime lines.

`parse_catalog()` turns a catalog document into frozen values and refuses anything the checks
could misread (a fixed patch on the wrong minor, a latest patch that is not the newest, an
unknown component): a bad file is rejected whole rather than half-used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from posture.release_versions import Version, parse_version

JSON = dict[str, Any]
COMPONENTS = frozenset(
    {"apiserver", "kubelet", "controller-manager", "kube-proxy", "kubectl", "runc", "ingress-nginx"}
)
SEVERITIES = ("critical", "high", "medium", "low")
# Entries merged from the official CVE feed carry no ranges: their component and severity are
# whatever a later curated catalog says, "unknown" until then.
UNKNOWN = "unknown"

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_CATALOG_VERSION = re.compile(r"^\d+(?:\.\d+)*$")
_MINOR = re.compile(r"^\d+\.\d+$")


class CatalogError(ValueError):
    """The file is not a valid catalog (or CVE feed); nothing was written."""


class SupportStatus(StrEnum):
    SUPPORTED = "supported"
    MAINTENANCE = "maintenance"  # security and critical fixes only, until end of life
    EOL = "eol"
    UNKNOWN = "unknown"  # newer than anything the catalog knows: refresh it


def _require_version(text: object, where: str) -> Version:
    version = parse_version(text) if isinstance(text, str) else None
    if version is None:
        raise CatalogError(f"{where}: {text!r} is not a version")
    return version


def _require_date(text: object, where: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError as exc:
        raise CatalogError(f"{where}: {text!r} is not a YYYY-MM-DD date") from exc


def catalog_version_key(version: str) -> tuple[int, ...]:
    if not _CATALOG_VERSION.match(version):
        raise CatalogError(f"catalog_version {version!r} must be dot-separated numbers")
    return tuple(int(part) for part in version.split("."))


# -- catalog entries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One Kubernetes minor, or one runtime line (containerd 1.7): dates and patches."""

    line: str
    eol: date
    latest_patch: Version
    released: date | None = None
    maintenance_start: date | None = None  # None: no maintenance phase (runtime lines)
    patches: tuple[tuple[Version, date], ...] = ()  # newest first, when known
    note: str = ""

    def status(self, today: date) -> SupportStatus:
        if today >= self.eol:
            return SupportStatus.EOL
        if self.maintenance_start is not None and today >= self.maintenance_start:
            return SupportStatus.MAINTENANCE
        return SupportStatus.SUPPORTED

    def newer_patches(self, version: Version) -> list[tuple[Version, date | None]]:
        """Releases of this line newer than `version`, oldest first."""
        if self.patches:
            return sorted(
                ((v, d) for v, d in self.patches if v.key > version.key), key=lambda p: p[0].key
            )
        if self.latest_patch.key > version.key:
            return [(self.latest_patch, None)]
        return []

    def patches_behind(self, version: Version) -> int:
        if self.patches:
            return len(self.newer_patches(version))
        return max(0, self.latest_patch.patch - version.patch)


@dataclass(frozen=True)
class Cve:
    id: str
    component: str
    severity: str
    summary: str
    fixed: Mapping[str, Version]  # minor -> first fixed patch of that minor
    affected: str = ""  # the human-readable range, as published
    affected_from: Version | None = None  # older versions never had the bug
    no_fix: bool = False  # design issues: every version affected, mitigate instead
    ranges_known: bool = True  # False for ids merged from the CVE feed without our table
    platforms: tuple[str, ...] = ()  # ("windows",): only nodes of that OS are exposed
    mitigation: str = ""
    urls: tuple[str, ...] = ()

    def affects(self, version: Version) -> bool:
        if not self.ranges_known:
            return False
        if self.affected_from is not None and version.key < self.affected_from.key:
            return False
        if self.no_fix:
            return True
        fixed = self.fixed.get(version.minor_key)
        if fixed is not None:
            return version.key < fixed.key
        newest_fixed = max((v.major, v.minor) for v in self.fixed.values())
        # A minor newer than every fixed minor branched after the fix; an older one (or a gap)
        # never received it.
        return (version.major, version.minor) < newest_fixed

    def fix_for(self, version: Version) -> Version | None:
        """The first fixed patch on `version`'s own minor, None when that minor has none."""
        return self.fixed.get(version.minor_key)

    def fix_text(self, version: Version) -> str:
        fixed = self.fix_for(version)
        if fixed is not None:
            return f"fixed in {fixed.upstream}"
        if self.no_fix:
            return "no fix released"
        others = ", ".join(v.upstream for v in sorted(self.fixed.values(), key=lambda v: v.key))
        return f"no fix on {version.minor_key}: fixed in {others}"

    def applies_to_platform(self, platform: str | None) -> bool:
        return not self.platforms or platform is None or platform.lower() in self.platforms


@dataclass(frozen=True)
class Catalog:
    version: str
    generated_at: date
    minors: Mapping[str, Release]
    cves: tuple[Cve, ...]
    runtimes: Mapping[str, Mapping[str, Release]]  # "containerd" -> "1.7" -> line
    origin: str = ""
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    def release(self, minor: str) -> Release | None:
        return self.minors.get(minor)

    def minor_status(self, minor: str, today: date) -> SupportStatus:
        return _line_status(self.minors, minor, today)

    def latest_patch(self, minor: str) -> Version | None:
        release = self.minors.get(minor)
        return release.latest_patch if release else None

    def cves_affecting(
        self,
        component: str,
        version: Version,
        *,
        platform: str | None = None,
        include_unfixable: bool = False,
    ) -> list[Cve]:
        """CVEs of `component` affecting `version`; design issues with no fix only on request."""
        return [
            cve
            for cve in self.cves
            if cve.component == component
            and (include_unfixable or not cve.no_fix)
            and cve.applies_to_platform(platform)
            and cve.affects(version)
        ]

    def runtime_line(self, runtime: str, version: Version) -> Release | None:
        return self.runtimes.get(runtime, {}).get(version.minor_key)

    def runtime_status(self, runtime: str, version: Version, today: date) -> SupportStatus:
        return _line_status(self.runtimes.get(runtime, {}), version.minor_key, today)


def _line_key(line: str) -> tuple[int, int]:
    major, minor = line.split(".")
    return int(major), int(minor)


def _line_status(lines: Mapping[str, Release], line: str, today: date) -> SupportStatus:
    release = lines.get(line)
    if release is not None:
        return release.status(today)
    if not lines or not _MINOR.match(line):
        return SupportStatus.UNKNOWN
    oldest = min(lines, key=_line_key)
    # Lines age out in order: anything older than an already-dead oldest line is dead too.
    if _line_key(line) < _line_key(oldest) and lines[oldest].status(today) == SupportStatus.EOL:
        return SupportStatus.EOL
    return SupportStatus.UNKNOWN


# -- parsing and validation -----------------------------------------------------------------


def parse_catalog(data: object, *, origin: str = "") -> Catalog:
    """Validate a catalog document; raise CatalogError naming the first problem."""
    if not isinstance(data, dict):
        raise CatalogError("a catalog is a JSON object")
    version = data.get("catalog_version")
    if not isinstance(version, str):
        raise CatalogError("catalog_version is missing")
    catalog_version_key(version)
    generated_at = _require_date(data.get("generated_at"), "generated_at")
    if not isinstance(data.get("sources"), list):
        raise CatalogError("sources must be a list")
    minors_data = (data.get("kubernetes") or {}).get("minors")
    if not isinstance(minors_data, dict) or not minors_data:
        raise CatalogError("kubernetes.minors must list at least one minor")
    minors = {minor: _parse_minor(minor, entry) for minor, entry in minors_data.items()}
    cves_data = data.get("cves")
    if not isinstance(cves_data, list):
        raise CatalogError("cves must be a list")
    cves = tuple(_parse_cve(entry, index) for index, entry in enumerate(cves_data))
    seen: set[str] = set()
    for cve in cves:
        if cve.id in seen:
            raise CatalogError(f"{cve.id} is listed twice")
        seen.add(cve.id)
    runtimes: dict[str, dict[str, Release]] = {}
    for runtime, spec in (data.get("runtimes") or {}).items():
        lines = (spec or {}).get("lines")
        if lines is None:
            continue  # runc: facts without lines
        if not isinstance(lines, dict):
            raise CatalogError(f"runtimes.{runtime}.lines must be an object")
        runtimes[runtime] = {
            line: _parse_line(f"runtimes.{runtime}.{line}", line, entry)
            for line, entry in lines.items()
        }
    return Catalog(version, generated_at, minors, cves, runtimes, origin, data)


def _parse_line(where: str, line: str, entry: object) -> Release:
    if not _MINOR.match(line) or not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected a 'major.minor' key with an object")
    latest = _require_version(entry.get("latest_patch"), f"{where}.latest_patch")
    if latest.minor_key != line:
        raise CatalogError(f"{where}: latest_patch {latest} is not on line {line}")
    return Release(
        line=line,
        eol=_require_date(entry.get("eol"), f"{where}.eol"),
        latest_patch=latest,
        released=_require_date(entry["released"], where) if entry.get("released") else None,
        note=str(entry.get("note", "")),
    )


def _parse_minor(minor: str, entry: object) -> Release:
    where = f"kubernetes.minors.{minor}"
    base = _parse_line(where, minor, entry)
    assert isinstance(entry, dict)  # _parse_line checked it
    patches = []
    for text, when in (entry.get("patches") or {}).items():
        patch = _require_version(text, f"{where}.patches")
        if patch.minor_key != minor:
            raise CatalogError(f"{where}.patches: {text} is not a {minor} release")
        patches.append((patch, _require_date(when, f"{where}.patches.{text}")))
    patches.sort(key=lambda p: p[0].key, reverse=True)
    if patches and patches[0][0].key != base.latest_patch.key:
        raise CatalogError(f"{where}: latest_patch {base.latest_patch} is not the newest patch")
    return Release(
        line=minor,
        eol=base.eol,
        latest_patch=base.latest_patch,
        released=base.released,
        maintenance_start=_require_date(
            entry.get("maintenance_start"), f"{where}.maintenance_start"
        ),
        patches=tuple(patches),
        note=base.note,
    )


def _parse_cve(entry: object, index: int) -> Cve:
    if not isinstance(entry, dict):
        raise CatalogError(f"cves[{index}] must be an object")
    cve_id = entry.get("id")
    if not isinstance(cve_id, str) or not CVE_ID.match(cve_id):
        raise CatalogError(f"cves[{index}]: {cve_id!r} is not a CVE id")
    ranges_known = bool(entry.get("ranges_known", True))
    component = entry.get("component")
    if component not in COMPONENTS and not (component == UNKNOWN and not ranges_known):
        raise CatalogError(f"{cve_id}: unknown component {component!r}")
    severity = entry.get("severity")
    if severity not in SEVERITIES and not (severity == UNKNOWN and not ranges_known):
        raise CatalogError(f"{cve_id}: severity {severity!r} is not one of {SEVERITIES}")
    fixed: dict[str, Version] = {}
    for minor, text in (entry.get("fixed") or {}).items():
        version = _require_version(text, f"{cve_id}.fixed")
        if version.minor_key != minor:
            raise CatalogError(f"{cve_id}: fixed[{minor}] = {text} is on another minor")
        fixed[minor] = version
    no_fix = bool(entry.get("no_fix", False))
    if ranges_known and not fixed and not no_fix:
        raise CatalogError(f"{cve_id}: needs fixed versions, no_fix, or ranges_known: false")
    affected_from = entry.get("affected_from")
    return Cve(
        id=cve_id,
        component=str(component),
        severity=str(severity),
        summary=str(entry.get("summary", "")),
        fixed=fixed,
        affected=str(entry.get("affected", "")),
        affected_from=_require_version(affected_from, f"{cve_id}.affected_from")
        if affected_from
        else None,
        no_fix=no_fix,
        ranges_known=ranges_known,
        platforms=tuple(p.lower() for p in entry.get("platforms") or ()),
        mitigation=str(entry.get("mitigation", "")),
        urls=tuple(entry.get("urls") or ()),
    )
