"""Discovery documents of the fake API server (clusters/tests/fakeapi.py), as a real one
answers them: `/api`, `/apis`, `/apis/<group>` and `/apis/<group>/<version>`, naming only the
groups and resources the fake serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from clusters.resources import RESOURCES, Resource

if TYPE_CHECKING:
    from clusters.tests.fakeapi import FakeApiServer

JSON = dict[str, Any]


def api_versions() -> bytes:
    return orjson.dumps(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
            ],
        }
    )


def served_versions(fake: FakeApiServer) -> dict[str, dict[str, list[Resource]]]:
    """group -> version -> the resources discovery names there."""
    served: dict[str, dict[str, list[Resource]]] = {}
    for resource in RESOURCES:
        if resource.group and fake.serves(resource):
            served.setdefault(resource.group, {}).setdefault(resource.version, []).append(resource)
    return served


def api_group(group: str, versions: Iterable[str]) -> JSON:
    ordered = sorted(versions)
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered],
        "preferredVersion": {"groupVersion": f"{group}/{ordered[-1]}", "version": ordered[-1]},
    }


def api_group_list(fake: FakeApiServer) -> bytes:
    groups = [api_group(group, versions) for group, versions in served_versions(fake).items()]
    return orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


def discovery_document(fake: FakeApiServer, path: str) -> bytes | None:
    """`/apis/<group>` (APIGroup) or `/apis/<group>/<version>` (APIResourceList), if served."""
    parts = path.split("/")  # "", "apis", group[, version]
    if len(parts) not in (3, 4) or parts[1] != "apis":
        return None
    versions = served_versions(fake).get(parts[2])
    if versions is None:
        return None
    if len(parts) == 3:
        return orjson.dumps(
            {"kind": "APIGroup", "apiVersion": "v1", **api_group(parts[2], versions)}
        )
    resources = versions.get(parts[3])
    if resources is None:
        return None
    return orjson.dumps(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{parts[2]}/{parts[3]}",
            "resources": [
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get", "list", "watch"],
                }
                for r in resources
            ],
        }
    )
