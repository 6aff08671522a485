"""The release catalog: Kubernetes minors and patches, notable CVEs and container-runtime lines.

The catalog is data, not code: `posture/data/kubernetes.json` ships with Rampart, and
`import_catalog()` (behind `manage.py refresh_catalog --from FILE`) writes a newer one into
`DATA_DIR/catalog/`. The loader prefers that imported file only while its `catalog_version` is
newer than the bundled one, so upgrading Rampart to a release with fresher data wins over an old
import without anyone deleting files.

Versions are parsed as upstream `major.minor.patch` plus an optional pre-release and provider
build tag (`v1.30.5-gke.1014001`, `v1.28.9+k3s1`): a provider build is judged by its upstream
patch, with the caveat that the provider may have backported fixes into it.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from posture.release_schema import (
    CVE_ID,
    UNKNOWN,
    Catalog,
    CatalogError,
    Cve,
    SupportStatus,
    catalog_version_key,
    parse_catalog,
)
from posture.release_versions import Version, parse_version

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
CATALOG_FILENAME = "kubernetes.json"
BUNDLED_PATH = Path(__file__).resolve().parent / "data" / CATALOG_FILENAME
JSON_FEED_PREFIX = "https://jsonfeed.org/version/1"


# -- loading --------------------------------------------------------------------------------

# path -> ((mtime_ns, size), catalog): a refresh by another process is picked up on the next
# call without restarting workers, and an unchanged file is parsed once per process.
_cache: dict[Path, tuple[tuple[int, int], Catalog]] = {}


def load_catalog(path: Path) -> Catalog:
    """Parse one catalog file (cached until the file changes)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not JSON ({exc})") from exc
    catalog = parse_catalog(data, origin=str(path))
    _cache[path] = (stamp, catalog)
    return catalog


def default_data_dir() -> Path | None:
    """DATA_DIR/catalog when Django is configured; read per call, never at import time."""
    from django.conf import settings

    if not settings.configured or not getattr(settings, "DATA_DIR", None):
        return None
    return Path(settings.DATA_DIR) / "catalog"


def get_catalog(data_dir: Path | None = None) -> Catalog:
    """The newest valid catalog: an imported one in `data_dir` if newer, else the bundled one."""
    bundled = load_catalog(BUNDLED_PATH)
    directory = data_dir if data_dir is not None else default_data_dir()
    candidate = directory / CATALOG_FILENAME if directory is not None else None
    if candidate is None or not candidate.is_file():
        return bundled
    try:
        imported = load_catalog(candidate)
    except (OSError, CatalogError) as exc:
        # A damaged import must not take every patching check down with it.
        logger.warning("ignoring imported release catalog %s: %s", candidate, exc)
        return bundled
    if catalog_version_key(imported.version) > catalog_version_key(bundled.version):
        return imported
    return bundled


def minor_status(minor: str, today: date) -> SupportStatus:
    return get_catalog().minor_status(minor, today)


def latest_patch(minor: str) -> Version | None:
    return get_catalog().latest_patch(minor)


def cves_affecting(component: str, version: Version | str) -> list[Cve]:
    parsed = parse_version(version) if isinstance(version, str) else version
    return get_catalog().cves_affecting(component, parsed) if parsed else []


# -- importing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogImport:
    source: str  # "catalog" | "cve-feed"
    catalog_version: str
    written_to: Path | None  # None: nothing newer to write
    cves_total: int = 0
    cves_added: int = 0
    cves_updated: int = 0
    message: str = ""


def import_catalog(path: Path, data_dir: Path, *, today: date | None = None) -> CatalogImport:
    """Import a Rampart catalog or the official Kubernetes CVE feed into `data_dir`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not JSON ({exc})") from exc
    current = get_catalog(data_dir)
    if isinstance(data, dict) and "catalog_version" in data:
        incoming = parse_catalog(data, origin=str(path))
        if catalog_version_key(incoming.version) <= catalog_version_key(current.version):
            return CatalogImport(
                "catalog",
                current.version,
                None,
                len(current.cves),
                message=f"catalog {incoming.version} is not newer than {current.version}",
            )
        target = _write(data_dir, data)
        return CatalogImport(
            "catalog",
            incoming.version,
            target,
            len(incoming.cves),
            message=f"catalog {incoming.version} replaces {current.version}",
        )
    if isinstance(data, dict) and str(data.get("version", "")).startswith(JSON_FEED_PREFIX):
        return _import_feed(data, current, data_dir, today or date.today())
    raise CatalogError(f"{path}: neither a Rampart catalog nor the Kubernetes CVE JSON feed")


def _import_feed(feed: JSON, current: Catalog, data_dir: Path, today: date) -> CatalogImport:
    items = feed.get("items")
    if not isinstance(items, list):
        raise CatalogError("the CVE feed has no items list")
    merged = copy.deepcopy(current.raw)
    entries = {entry["id"]: entry for entry in merged["cves"]}
    added = updated = 0
    for item in items:
        cve_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(cve_id, str) or not CVE_ID.match(cve_id):
            continue  # the feed is one item per CVE id; anything else is not ours to guess
        feed_facts = {
            key: item[key]
            for key in ("summary", "url", "external_url", "status", "date_published")
            if isinstance(item.get(key), str)
        }
        entry = entries.get(cve_id)
        if entry is None:
            # Ranges come only from the curated table: a feed-only id is listed, never matched.
            entry = {
                "id": cve_id,
                "component": UNKNOWN,
                "severity": UNKNOWN,
                "summary": feed_facts.get("summary", ""),
                "fixed": {},
                "ranges_known": False,
                "urls": [],
                "sources": ["official CVE feed"],
            }
            merged["cves"].append(entry)
            entries[cve_id] = entry
            added += 1
        elif entry.get("feed") == feed_facts:
            continue
        else:
            updated += 1
        entry["feed"] = feed_facts
        urls = entry.setdefault("urls", [])
        for key in ("url", "external_url"):
            if key in feed_facts and feed_facts[key] not in urls:
                urls.append(feed_facts[key])
    if not added and not updated:
        return CatalogImport(
            "cve-feed",
            current.version,
            None,
            len(current.cves),
            message=f"the feed adds nothing to catalog {current.version}",
        )
    merged["catalog_version"] = _next_version(current.version, today)
    merged["generated_at"] = today.isoformat()
    refreshed = (feed.get("_kubernetes_io") or {}).get("updated_at", today.isoformat())
    for source in merged.get("sources", []):
        if "official-cve-feed" in str(source.get("url", "")):
            source["revision"] = f"imported (feed updated {refreshed})"
    incoming = parse_catalog(merged, origin="cve-feed")  # never write what the loader refuses
    target = _write(data_dir, merged)
    return CatalogImport(
        "cve-feed",
        incoming.version,
        target,
        len(incoming.cves),
        added,
        updated,
        f"merged {added} new and {updated} updated CVE ids from the feed",
    )


def _next_version(current: str, today: date) -> str:
    """A version strictly newer than `current`, dated today when possible."""
    dated = today.strftime("%Y.%m.%d")
    if catalog_version_key(dated) > catalog_version_key(current):
        return dated
    parts = current.split(".")
    if len(parts) > 3:
        return ".".join([*parts[:-1], str(int(parts[-1]) + 1)])
    return f"{current}.1"


def _write(data_dir: Path, data: JSON) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / CATALOG_FILENAME
    # Write then rename: a worker loading the catalog meanwhile sees the old file or the new
    # one, never half of one.
    handle, temp_name = tempfile.mkstemp(dir=data_dir, prefix=".catalog-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=1, ensure_ascii=False)
            stream.write("\n")
        Path(temp_name).replace(target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _cache.pop(target, None)
    return target
