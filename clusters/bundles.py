"""Evidence bundles: `kubectl get <kind> -A -o json` outputs plus `version.json`.

A bundle is a directory, a `.tar.gz` or a `.zip`. Each file's kind is read from its content
(the items' `kind` within their apiVersion's group, else the list's kind) rather than trusted
from its name, so any `kubectl ... -o json > file` works; a custom resource's file is
`<plural>.<group>.json`. A resource with no file was not collected: its checks are unknown,
except an add-on CRD's resource when the bundle's customresourcedefinitions.json shows that CRD
is not installed (then it is not served). Archives are read member by member with size limits,
never extracted to disk, so a hostile archive cannot write outside a folder or fill the disk.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import orjson

from clusters.inventory import JSON, Inventory, KindStatus, Shared, gc_paused, trim
from clusters.resources import BY_GROUP_KIND, BY_KEY, BY_KIND, RESOURCES, Resource

# One member may be large (50,000 pods is ~1 GB of kubectl JSON); the whole bundle is capped by
# the upload limit before it gets here.
MAX_MEMBER_BYTES = 2 * 1024 * 1024 * 1024
MAX_MEMBERS = 500
PROVIDER_FILES = {"gke-cluster.json": "gke"}
# Written by scripts/collect-bundle.sh: "key<TAB>forbidden|not_served|error<TAB>message" per line,
# so a bundle says *why* a kind is missing (forbidden is not the same as not installed).
ERRORS_FILE = "collection-errors.txt"
_ERROR_STATUSES = {
    "forbidden": KindStatus.FORBIDDEN,
    "not_served": KindStatus.NOT_SERVED,
    "error": KindStatus.ERROR,
}


class BundleError(ValueError):
    """The bundle cannot be read at all. Problems with one file are recorded, not raised."""


def _wanted(name: str) -> bool:
    return name.endswith(".json") or PurePosixPath(name).name == ERRORS_FILE


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(file name, content) for every .json file (and the errors file) in the bundle."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.name))
        if len(files) > MAX_MEMBERS:
            raise BundleError(f"{path} holds {len(files)} JSON files; at most {MAX_MEMBERS}")
        for file in files:
            yield file.name, file.read_bytes()
        return
    if not path.is_file():
        raise BundleError(f"{path} does not exist")
    if zipfile.is_zipfile(path):
        yield from _zip_members(path)
        return
    try:
        with tarfile.open(path, mode="r:*") as archive:
            count = 0
            for member in archive:
                if not member.isfile() or not _wanted(member.name):
                    continue
                count += 1
                if count > MAX_MEMBERS:
                    raise BundleError(f"the archive holds more than {MAX_MEMBERS} JSON files")
                if member.size > MAX_MEMBER_BYTES:
                    raise BundleError(f"{member.name} is larger than {MAX_MEMBER_BYTES} bytes")
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                yield PurePosixPath(member.name).name, extracted.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleError(f"the archive is truncated or not a .tar.gz/.zip: {exc}") from exc


def _zip_members(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if _wanted(i.filename) and not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise BundleError(f"the archive holds more than {MAX_MEMBERS} JSON files")
            for info in infos:
                if info.file_size > MAX_MEMBER_BYTES:
                    raise BundleError(f"{info.filename} is larger than {MAX_MEMBER_BYTES} bytes")
                yield PurePosixPath(info.filename).name, archive.read(info)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BundleError(f"the zip archive is truncated or corrupt: {exc}") from exc


def resource_key(name: str, document: JSON) -> str | None:
    """Which resource a kubectl output holds: from its items, its list kind, then its name."""
    items = document.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and (found := _resource_of(item)) is not None:
                return found.key
        list_kind = str(document.get("kind", ""))
        if list_kind.endswith("List") and list_kind != "List":
            found = _resource_of({**document, "kind": list_kind.removesuffix("List")})
            if found is not None:
                return found.key
    elif (found := _resource_of(document)) is not None:
        return found.key  # a single object, `kubectl get x -o json`
    stem = name.removesuffix(".json").lower()
    return stem if stem in BY_KEY else None


def _resource_of(obj: JSON) -> Resource | None:
    """The resource of an object (or a typed list) by its kind within its apiVersion's group.

    Calico's `NetworkPolicy` (crd.projectcalico.org) is not Kubernetes' (networking.k8s.io).
    An object without an apiVersion is taken for the built-in kind of that name.
    """
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return None
    api_version = obj.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        return BY_KIND.get(kind)
    group = api_version.rpartition("/")[0]  # "" for the core group's "v1"
    found = BY_GROUP_KIND.get((group, kind))
    if found is None and kind in BY_KIND and not BY_KIND[kind].custom:
        found = BY_KIND[kind]  # an older group of a built-in kind (extensions/v1beta1)
    return found


def read_bundle(path: Path) -> Inventory:
    with gc_paused():
        return _read_bundle(path)


def _read_bundle(path: Path) -> Inventory:
    inventory = Inventory(source=f"bundle {path.name}")
    shared = Shared()
    problems: dict[str, str] = {}
    recorded: dict[str, tuple[KindStatus, str]] = {}
    seen_any = False
    for name, content in _members(path):
        lower = name.lower()
        if lower == ERRORS_FILE:
            recorded.update(recorded_errors(content))
            continue
        try:
            document = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            key = lower.removesuffix(".json")
            if key in BY_KEY:
                problems[key] = f"{name} is not valid JSON (truncated?): {exc}"
            elif lower == "version.json":
                problems["version"] = f"version.json is not valid JSON: {exc}"
            continue
        del content
        if not isinstance(document, dict):
            continue
        seen_any = True
        if lower == "version.json":
            inventory.version = document if "gitVersion" in document else None
            continue
        if lower in PROVIDER_FILES:
            inventory.provider = {"kind": PROVIDER_FILES[lower], "cluster": document}
            continue
        found = resource_key(name, document)
        if found is None:
            continue
        key = found
        raw_items = document.get("items")
        items = raw_items if isinstance(raw_items, list) else [document]
        trimmed = [trim(key, item, shared) for item in items if isinstance(item, dict)]
        # Several files of one kind (per-namespace dumps) add up.
        if inventory.has(key):
            inventory.objects[key].extend(trimmed)
        else:
            inventory.set_objects(key, trimmed)
    if not seen_any and not problems:
        raise BundleError(f"{path.name} holds no kubectl JSON output")
    installed = _installed_crds(inventory)
    for resource in RESOURCES:
        if inventory.has(resource.key):
            continue
        if resource.key in problems:
            inventory.set_missing(resource.key, KindStatus.ERROR, problems[resource.key])
        elif resource.key in recorded:
            inventory.set_missing(resource.key, *recorded[resource.key])
        elif resource.custom and installed is not None and resource_crd(resource) not in installed:
            # A definitive absence: the cluster's CRD list, collected with the bundle, lacks it.
            inventory.set_missing(
                resource.key,
                KindStatus.NOT_SERVED,
                f"{resource.key}.json is not in the bundle and customresourcedefinitions.json "
                f"lists no {resource_crd(resource)} CRD: the add-on is not installed",
            )
        else:
            inventory.set_missing(
                resource.key, KindStatus.NOT_COLLECTED, f"{resource.key}.json is not in the bundle"
            )
    return inventory


def resource_crd(resource: Resource) -> str:
    """The name of the CRD that serves a custom resource: `<plural>.<group>`."""
    return f"{resource.plural}.{resource.group}"


def _installed_crds(inventory: Inventory) -> frozenset[str] | None:
    """`<plural>.<group>` of each CRD the bundle lists; None when the CRD list was not collected."""
    if not inventory.has("customresourcedefinitions"):
        return None
    installed = set()
    for crd in inventory.items("customresourcedefinitions"):
        spec = crd.get("spec") or {}
        plural = (spec.get("names") or {}).get("plural")
        if plural and spec.get("group"):
            installed.add(f"{plural}.{spec['group']}")
    return frozenset(installed)


def recorded_errors(content: bytes) -> dict[str, tuple[KindStatus, str]]:
    recorded = {}
    for line in content.decode("utf-8", errors="replace").splitlines():
        key, _, rest = line.partition("\t")
        status, _, message = rest.partition("\t")
        if key in BY_KEY and status in _ERROR_STATUSES:
            recorded[key] = (_ERROR_STATUSES[status], message.strip()[:500])
    return recorded
