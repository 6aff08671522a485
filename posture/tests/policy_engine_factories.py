"""Clusters with Cilium or Calico policies, collected the two ways Rampart collects them.

`Source.collect(objects)` returns the Inventory a real source produces from those objects: an
evidence bundle written as `kubectl get <resource> -A -o json` prints it and read with
read_bundle, or the fake API server over HTTP collected by clusters.kube.collect with the real
`kubernetes` client. Objects are full API objects (apiVersion, kind, metadata, spec); a policy
engine counts as installed when the objects include its CRDs (`crds(...)`), as on a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from clusters import kube
from clusters.bundles import ERRORS_FILE, read_bundle
from clusters.inventory import Inventory
from clusters.resources import BY_KEY, RESOURCES
from clusters.tests.fakeapi import DEFAULT_VERSION, FakeApiServer
from posture.checks import network  # noqa: F401  (registers the network checks)
from posture.checks.base import REGISTRY, CheckContext, Outcome, run_check

JSON = dict[str, Any]
CILIUM = ("ciliumnetworkpolicies.cilium.io", "ciliumclusterwidenetworkpolicies.cilium.io")
CALICO = ("networkpolicies.crd.projectcalico.org", "globalnetworkpolicies.crd.projectcalico.org")
CALICO_V3 = ("networkpolicies.projectcalico.org", "globalnetworkpolicies.projectcalico.org")
POLICY_CHECKS = (
    "network.default_deny_missing",
    "network.default_deny_egress_missing",
    "network.pods_unselected",
)


def obj(key: str, name: str, namespace: str | None = None, **body: Any) -> JSON:
    """An API object of resource `key`, as the API server returns it."""
    resource = BY_KEY[key]
    metadata: JSON = {"name": name, "uid": f"uid-{key}-{namespace}-{name}"}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata, **body}


def namespace(name: str, **labels: str) -> JSON:
    namespace_object = obj("namespaces", name)
    namespace_object["metadata"]["labels"] = {"kubernetes.io/metadata.name": name, **labels}
    return namespace_object


def deployment(ns: str, name: str, **labels: str) -> JSON:
    template = {
        "metadata": {"labels": labels or {"app": name}},
        "spec": {"containers": [{"name": name, "image": f"registry.example/{name}:1.0"}]},
    }
    return obj("deployments", name, ns, spec={"replicas": 1, "template": template})


def crds(*keys: str) -> list[JSON]:
    """The CustomResourceDefinitions that serve these custom resources."""
    found = []
    for key in keys:
        resource = BY_KEY[key]
        names = {"plural": resource.plural, "kind": resource.kind}
        spec = {"group": resource.group, "names": names, "versions": [{"name": resource.version}]}
        found.append(obj("customresourcedefinitions", key, spec=spec))
    return found


def cluster(*objects: JSON, crds_of: Iterable[str] = ()) -> dict[str, list[JSON]]:
    """Every built-in resource listed (empty unless given), plus the CRDs and objects given."""
    found: dict[str, list[JSON]] = {r.key: [] for r in RESOURCES if not r.custom}
    found["customresourcedefinitions"] = crds(*crds_of)
    for item in [*objects]:
        key = next(
            r.key
            for r in RESOURCES
            if (r.api_version, r.kind) == (item["apiVersion"], item["kind"])
        )
        found.setdefault(key, []).append(item)
    for key in crds_of:
        found.setdefault(key, [])
    return found


@dataclass
class Source:
    """Collects a cluster as an evidence bundle or over HTTP; `name` is "bundle" or "live"."""

    name: str
    tmp_path: Path
    requests: list[str] = field(default_factory=list)

    def collect(
        self,
        objects: dict[str, list[JSON]],
        *,
        forbidden: Iterable[str] = (),
        unreadable: Iterable[str] = (),
    ) -> Inventory:
        """`forbidden`: the reader may not list them; `unreadable`: installed, not obtained
        (left out of the bundle; answered 500 live)."""
        if self.name == "bundle":
            return self._bundle(objects, set(forbidden), set(unreadable))
        return self._live(objects, set(forbidden), set(unreadable))

    def _bundle(
        self, objects: dict[str, list[JSON]], forbidden: set[str], unreadable: set[str]
    ) -> Inventory:
        directory = self.tmp_path / "bundle"
        directory.mkdir(exist_ok=True)
        for key, items in objects.items():
            if key in forbidden or key in unreadable:
                continue
            listing = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}
            (directory / f"{key}.json").write_bytes(orjson.dumps(listing))
        (directory / "version.json").write_bytes(orjson.dumps(DEFAULT_VERSION))
        lines = [
            f'{key}\tforbidden\tError from server (Forbidden): {key} is forbidden: User "reader"\n'
            for key in sorted(forbidden)
        ]
        if lines:
            (directory / ERRORS_FILE).write_text("".join(lines))
        return read_bundle(directory)

    def _live(
        self, objects: dict[str, list[JSON]], forbidden: set[str], unreadable: set[str]
    ) -> Inventory:
        held = {key: items for key, items in objects.items() if key not in unreadable}
        errors = dict.fromkeys(unreadable, 500)
        with FakeApiServer(held, forbidden=forbidden, errors=errors) as server:
            inventory = kube.collect(server.credentials(), timeout=10)
            self.requests = list(server.requests)
        return inventory


def run(check_id: str, inventory: Inventory) -> Outcome:
    return run_check(REGISTRY[check_id], inventory, CheckContext()).outcome


def names(outcome: Outcome) -> list[tuple[str, str, str]]:
    return [(a.kind, a.namespace, a.name) for a in outcome.affected]


def detail_of(outcome: Outcome, name: str) -> str:
    return next(a.detail for a in outcome.affected if a.name == name)
