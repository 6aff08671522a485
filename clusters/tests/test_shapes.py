"""The shapes checks read: real objects fit them, and whatever fits them no check trips over.

The second property is what makes dropping malformed objects enough: every field of a real
object is replaced by a value of the wrong type (or removed); when the shapes accept the
result, the trim and every check must still run without an error.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from clusters.bundles import kind_file, read_bundle
from clusters.inventory import Inventory, KindStatus, trim
from clusters.resources import RESOURCES
from clusters.shapes import object_problem, split_valid
from clusters.tests.test_kube import pod
from posture.checks.base import CheckContext, Status, run_all

DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"
CONTEXT = CheckContext(today=date(2026, 11, 26))
_REMOVED = object()
WRONG_VALUES: list[Any] = ["x", 7, [7], {"a": 7}, None, _REMOVED]


def demo_objects(cluster: str) -> dict[str, list[dict[str, Any]]]:
    objects: dict[str, list[dict[str, Any]]] = {}
    for file in sorted((DEMO / cluster).glob("*.json")):
        document = orjson.loads(file.read_bytes())
        if isinstance(document, dict):
            key, items, refusal = kind_file(file.name, document)
            if key and not refusal:
                objects.setdefault(key, []).extend(items)
    return objects


def inventory_of(objects: dict[str, list[dict[str, Any]]]) -> Inventory:
    inventory = Inventory(version={"gitVersion": "v1.31.4", "major": "1", "minor": "31"})
    for resource in RESOURCES:
        inventory.set_objects(
            resource.key, [trim(resource.key, o) for o in objects.get(resource.key, [])]
        )
    inventory.anonymous_probe = {"/version": 200, "/api": 403}
    return inventory


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "managedFields":
                yield (*prefix, key)
                yield from paths(item, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from paths(value[0], (*prefix, 0))


def replaced(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    if value is _REMOVED:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@pytest.mark.parametrize("cluster", sorted(p.name for p in DEMO.iterdir() if p.is_dir()))
def test_it_accepts_every_object_of_the_demo_bundles(cluster: str) -> None:
    inventory = read_bundle(DEMO / cluster)

    assert KindStatus.PARTIAL not in inventory.kind_status.values()
    for key, items in demo_objects(cluster).items():
        assert split_valid(key, items)[1] == [], key


def test_it_lets_no_check_trip_over_an_object_the_shapes_accept() -> None:
    objects: dict[str, list[dict[str, Any]]] = {}
    for cluster in ("payments-prod", "storefront-staging", "edge-dev"):  # one object per kind
        for key, items in demo_objects(cluster).items():
            if items and key not in objects:
                objects[key] = items[:1]
    assert Status.ERROR not in {r.status for r in run_all(inventory_of(objects), CONTEXT)}
    tripped: list[str] = []
    tried = 0
    for key, (sample,) in objects.items():
        for path in paths(sample):
            for value in WRONG_VALUES:
                mutated = replaced(sample, path, value)
                if object_problem(key, mutated) is not None:
                    continue  # dropped at ingest: no check ever sees it
                tried += 1
                try:
                    results = run_all(inventory_of({**objects, key: [mutated]}), CONTEXT)
                except Exception as exc:  # the trim itself
                    tripped.append(f"{key} {path} = {value!r}: trim raised {exc!r}")
                    continue
                tripped += [
                    f"{key} {path} = {value!r}: {r.check.id} {r.outcome.summary}"
                    for r in results
                    if r.status == Status.ERROR
                ]
    assert tried > 1000
    assert not tripped, "\n".join(tripped[:20])


def test_it_validates_fifty_thousand_pods_in_seconds() -> None:
    pods = [pod(index) for index in range(50_000)]

    started = time.perf_counter()
    valid, problems = split_valid("pods", pods)
    elapsed = time.perf_counter() - started

    assert len(valid) == 50_000 and problems == []
    assert elapsed < 5.0, f"{elapsed:.2f}s"
