"""Evidence bundles: `kubectl get <kind> -A -o json` outputs plus `version.json`.

A bundle is a directory, a `.tar.gz` or a `.zip`, read within hard limits (clusters/archives.py).
Each file's kind is read from its content (the list's kind, else its items' `kind` within their
apiVersion's group, else its name), so any `kubectl ... -o json > file` works; a custom
resource's file is `<plural>.<group>.json`. A provider's description of the cluster rides along
as its own file (clusters.providers: gke-cluster.json, eks-cluster.json and their optional
companions), checked as that provider's JSON. A resource with no file was not collected: its
checks are unknown, except an add-on CRD's resource when the bundle's
customresourcedefinitions.json shows that CRD is not installed (then it is not served).

Files are held to what kubectl prints: a `<Kind>List` (or `List`) whose `items` is a list of
objects of that one kind. A file that is not (`{}`, `items: null`, a single object, a list of
strings, a mix of kinds) leaves its kind not collected, with the reason, rather than collected
and empty, which would pass every check on it. An object that does not fit the shape checks
read (clusters/shapes.py) is dropped and named, and its kind is partial.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from clusters.archives import ArchiveError, bundle_files
from clusters.inventory import JSON, Inventory, KindStatus, Shared, gc_paused, trim
from clusters.kube_bench import (
    BUNDLE_DIRECTORY,
    KUBE_BENCH,
    MAX_DOCUMENT_BYTES,
    kube_bench_from_files,
    kube_bench_missing,
)
from clusters.providers import (
    BY_BUNDLE_FILE,
    BY_EXTRA_FILE,
    PROVIDERS,
    DocumentError,
    Provider,
    document_checked,
    provider_missing,
    provider_set,
)
from clusters.resources import BY_GROUP_KIND, BY_KEY, BY_KIND, EXTRA_INPUTS, RESOURCES, Resource
from clusters.shapes import partial_reason, split_valid

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


def is_bundle_file(name: str) -> bool:
    return name.endswith(".json") or PurePosixPath(name).name == ERRORS_FILE


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
        try:
            return _read_bundle(path)
        except ArchiveError as exc:
            raise BundleError(str(exc)) from None
        except OSError as exc:  # a file removed or made unreadable while the bundle is read
            raise BundleError(f"the bundle cannot be read: {exc.strerror or exc}") from None


class _Kinds:
    """What the files of a bundle said about each kind, folded into the Inventory at the end.

    Several files of one kind (per-namespace dumps) add up; one unreadable file among them
    leaves the kind partial, all of them unreadable leaves it not collected.
    """

    def __init__(self) -> None:
        self.objects: dict[str, list[JSON]] = defaultdict(list)
        self.listed: dict[str, int] = defaultdict(int)
        self.dropped: dict[str, list[str]] = defaultdict(list)
        self.unreadable: dict[str, str] = {}
        self.shared = Shared()  # equal values across the bundle's objects, held once

    def add(self, key: str, items: list[Any]) -> None:
        valid, problems = split_valid(key, items)
        self.objects[key].extend(trim(key, item, self.shared) for item in valid)
        self.listed[key] += len(items)
        self.dropped[key].extend(problems)

    def refuse(self, key: str, reason: str) -> None:
        self.unreadable.setdefault(key, reason)

    def record(self, inventory: Inventory, recorded: dict[str, tuple[KindStatus, str]]) -> None:
        for key in self.listed:
            inventory.set_objects(key, self.objects[key])
            if key in self.unreadable:
                inventory.mark_partial(key, self.unreadable[key])
            elif self.dropped[key]:
                reason = partial_reason(key, self.dropped[key], total=self.listed[key])
                inventory.mark_partial(key, reason)
        installed = _installed_crds(inventory)
        for resource in RESOURCES:
            key = resource.key
            if key in self.listed:
                continue
            if key in self.unreadable:
                inventory.set_missing(key, KindStatus.ERROR, self.unreadable[key])
            elif key in recorded:
                inventory.set_missing(key, *recorded[key])
            elif (
                resource.custom
                and installed is not None
                and resource_crd(resource) not in installed
            ):
                # A definitive absence: the cluster's CRD list, collected with the bundle, lacks it.
                inventory.set_missing(
                    key,
                    KindStatus.NOT_SERVED,
                    f"{key}.json is not in the bundle and customresourcedefinitions.json "
                    f"lists no {resource_crd(resource)} CRD: the add-on is not installed",
                )
            else:
                inventory.set_missing(
                    key, KindStatus.NOT_COLLECTED, f"{key}.json is not in the bundle"
                )


def _read_bundle(path: Path) -> Inventory:
    inventory = Inventory(source=f"bundle {path.name}")
    kinds = _Kinds()
    recorded: dict[str, tuple[KindStatus, str]] = {}
    provider_files: dict[str, Any] = {}  # bundle file name -> its document
    unreadable_providers: dict[str, str] = {}
    benchmarks: dict[str, Any] = {}  # kube-bench/<node>.json: node -> its document
    unreadable_benchmarks: dict[str, str] = {}
    seen_any = False
    for member, content in bundle_files(path, is_bundle_file):
        name = PurePosixPath(member).name
        lower = name.lower()
        if lower == ERRORS_FILE:
            recorded.update(recorded_errors(content))
            continue
        if PurePosixPath(member).parent.name == BUNDLE_DIRECTORY and lower.endswith(".json"):
            _benchmark_file(name, content, benchmarks, unreadable_benchmarks)
            continue
        by_name = _key_from_name(name)
        try:
            document = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            if by_name:
                kinds.refuse(by_name, f"{name} is not valid JSON (truncated?): {exc}")
            if lower in BY_BUNDLE_FILE:
                unreadable_providers[lower] = f"{name} is not valid JSON (truncated?): {exc}"
            seen_any = seen_any or bool(by_name) or lower in ("version.json", *BY_BUNDLE_FILE)
            continue
        del content
        if lower == "version.json":
            seen_any = True
            inventory.version = _version(document)
            continue
        if lower in BY_BUNDLE_FILE or lower in BY_EXTRA_FILE:
            seen_any = True
            provider_files[lower] = document  # checked as the provider's JSON below
            continue
        if not isinstance(document, dict):
            if by_name:
                seen_any = True
                kinds.refuse(by_name, f"{name} is {_json_type(document)}, not a kubectl list")
            continue
        seen_any = True
        key, items, refusal = kind_file(name, document)
        if key is None:
            continue  # a kind Rampart does not collect, or not kubectl output at all
        if refusal:
            kinds.refuse(key, refusal)
        else:
            kinds.add(key, items)
        del document, items
    if not seen_any:
        raise BundleError(f"{path.name} holds no kubectl JSON output")
    kinds.record(inventory, recorded)
    for provider in PROVIDERS.values():
        _read_provider(inventory, provider, provider_files, unreadable_providers, recorded)
    if not benchmarks and not unreadable_benchmarks and KUBE_BENCH.key in recorded:
        kube_bench_missing(inventory, *recorded[KUBE_BENCH.key])
    else:
        kube_bench_from_files(inventory, benchmarks, unreadable_benchmarks)
    return inventory


def _benchmark_file(
    name: str, content: bytes | bytearray, files: dict[str, Any], unreadable: dict[str, str]
) -> None:
    """One node's kube-bench run, `kube-bench/<node>.json`, checked with the others later."""
    node = name[: -len(".json")]
    if len(content) > MAX_DOCUMENT_BYTES:
        unreadable[node] = f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"
        return
    try:
        files[node] = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        unreadable[node] = f"not valid JSON (truncated?): {exc}"


def _read_provider(
    inventory: Inventory,
    provider: Provider,
    files: dict[str, Any],
    unreadable: dict[str, str],
    recorded: dict[str, tuple[KindStatus, str]],
) -> None:
    """The provider's document from the bundle, or why there is none: a broken file, the
    collector's own record (collection-errors.txt: gcloud or the aws CLI refused), or simply
    not collected, which is normal."""
    name = provider.bundle_file
    if name in unreadable:
        provider_missing(inventory, provider, KindStatus.ERROR, unreadable[name])
        return
    if name not in files and provider.input.key in recorded:
        provider_missing(inventory, provider, *recorded[provider.input.key])
        return
    if name not in files:
        provider_missing(
            inventory, provider, KindStatus.NOT_COLLECTED, f"{name} is not in the bundle"
        )
        return
    try:
        document = document_checked(provider, files[name], where=name)
    except DocumentError as exc:
        provider_missing(inventory, provider, KindStatus.ERROR, str(exc))
        return
    extras = {
        key: files[file]
        for file, key in provider.extras.items()
        if isinstance(files.get(file), dict)
    }
    provider_set(inventory, provider, document, source=f"{name} in the bundle", **extras)


def kind_file(name: str, document: JSON) -> tuple[str | None, list[Any], str | None]:
    """(resource key, items, None) for a kubectl list of one kind Rampart collects.

    (key, [], reason) when the file names or holds such a kind but is not a list of objects of
    it; (None, [], None) when it is about nothing Rampart collects.
    """
    by_name = _key_from_name(name)
    list_kind = document.get("kind")
    items = document.get("items")
    resource: Resource | None
    if isinstance(list_kind, str) and list_kind.endswith("List") and list_kind != "List":
        resource = _resource_of({**document, "kind": list_kind.removesuffix("List")})
        if resource is None:
            if by_name is None:
                return None, [], None
            expected = f"{BY_KEY[by_name].kind}List"
            return by_name, [], f"{name} is a {_short(list_kind)}, not a {expected}"
    elif list_kind == "List":
        kinds = _item_resources(items)
        known = [found for found in kinds if found is not None]
        resource = known[0] if known else (BY_KEY[by_name] if by_name else None)
        if resource is None:
            return None, [], None
        if len(kinds) > 1:
            return (
                resource.key,
                [],
                (
                    f"{name} mixes kinds ({_kind_names(items)}); "
                    "write one kind per file, as `kubectl get KIND -A -o json` does"
                ),
            )
        if kinds and not known:
            return (
                resource.key,
                [],
                (f"{name} holds {_kind_names(items)} objects, not {resource.kind}"),
            )
    else:
        single = _resource_of(document)
        resource = single or (BY_KEY[by_name] if by_name else None)
        if resource is None:
            return None, [], None
        what = f"a single {single.kind}" if single else "not a list"
        return (
            resource.key,
            [],
            (
                f"{name} is {what}: expected a {resource.kind}List with `items`, "
                f"as `kubectl get {_plural(resource)} -A -o json` prints"
            ),
        )
    key, kind = resource.key, resource.kind
    if not isinstance(items, list):
        return key, [], f"{name}: `items` is {_json_type(items)}, not a list of {kind} objects"
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return key, [], f"{name}: item {index} is {_json_type(item)}, not a {kind} object"
        item_kind = item.get("kind")
        if item_kind is None:
            continue
        # Within the list's group: an item that names its apiVersion must resolve to the list.
        same = _resource_of(item) is resource if "apiVersion" in item else item_kind == kind
        if not same:
            return key, [], f"{name}: item {index} is a {_short(item_kind)}, not a {kind}"
    return key, items, None


def _item_resources(items: Any) -> list[Resource | None]:
    """The distinct resources of a generic List's items (None for an unknown kind), in order."""
    if not isinstance(items, list):
        return []
    found: dict[str, Resource | None] = {}
    for item in items:
        if isinstance(item, dict) and item.get("kind") is not None:
            resource = _resource_of(item) if isinstance(item.get("kind"), str) else None
            found[resource.key if resource else f"?{item.get('kind')!r}"] = resource
    return list(found.values())


def _kind_names(items: Any) -> str:
    kinds = {str(i.get("kind")) for i in items if isinstance(i, dict) and i.get("kind") is not None}
    return ", ".join(_short(kind) for kind in sorted(kinds)[:4])


def _plural(resource: Resource) -> str:
    return resource.key  # `kubectl get <plural>.<group>` for custom resources, as keyed


def _key_from_name(name: str) -> str | None:
    stem = PurePosixPath(name).name.lower().removesuffix(".json")
    return stem if stem in BY_KEY else None


def _version(document: Any) -> JSON | None:
    """The body of GET /version, when it is one (checks parse its gitVersion)."""
    if not isinstance(document, dict) or not isinstance(document.get("gitVersion"), str):
        return None
    if any(not isinstance(document.get(k, ""), str) for k in ("major", "minor", "platform")):
        return None
    return document


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "a number"
    )


def _short(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:60] + "…")


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


def recorded_errors(content: bytes | bytearray) -> dict[str, tuple[KindStatus, str]]:
    recorded = {}
    for line in content.decode("utf-8", errors="replace").splitlines():
        key, _, rest = line.partition("\t")
        status, _, message = rest.partition("\t")
        if (key in BY_KEY or key in EXTRA_INPUTS) and status in _ERROR_STATUSES:
            recorded[key] = (_ERROR_STATUSES[status], message.strip()[:500])
    return recorded
