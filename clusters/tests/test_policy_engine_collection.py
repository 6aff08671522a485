"""Collecting Cilium and Calico policies: only where the cluster serves them, never an error.

Live, one `GET /apis` decides which add-on groups are listed; in a bundle, a custom resource's
file is `<plural>.<group>.json` and its absence is "not served" only when the bundle's CRD list
shows the CRD is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from clusters import kube
from clusters.bundles import read_bundle, resource_key
from clusters.collection import finished_run_fields
from clusters.inventory import KindStatus
from clusters.models import CollectionRun
from clusters.resources import BY_KEY, RESOURCES
from clusters.tests.fakeapi import FakeApiServer

JSON = dict[str, Any]
CNP = "ciliumnetworkpolicies.cilium.io"
CCNP = "ciliumclusterwidenetworkpolicies.cilium.io"
CALICO_NP = "networkpolicies.crd.projectcalico.org"
CALICO_GNP = "globalnetworkpolicies.crd.projectcalico.org"
ENGINE_KEYS = [r.key for r in RESOURCES if r.custom]


def item(key: str, name: str, namespace: str | None = None) -> JSON:
    resource = BY_KEY[key]
    metadata: JSON = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata}


def crd(key: str) -> JSON:
    resource = BY_KEY[key]
    spec = {"group": resource.group, "names": {"plural": resource.plural, "kind": resource.kind}}
    return {**item("customresourcedefinitions", key), "spec": spec}


def built_in_objects() -> dict[str, list[JSON]]:
    return {r.key: [] for r in RESOURCES if not r.optional}


def test_it_lists_an_engine_only_when_discovery_serves_its_group() -> None:
    deny = {**item(CNP, "default-deny", "shop"), "spec": {"endpointSelector": {}, "ingress": [{}]}}
    objects = {**built_in_objects(), CNP: [deny], CCNP: []}
    with FakeApiServer(objects) as server:
        inventory = kube.collect(server.credentials())
        requests = list(server.requests)

    assert inventory.items(CNP)[0]["spec"] == {"endpointSelector": {}, "ingress": [{}]}
    assert inventory.kind_status[CCNP] == KindStatus.OK
    for key in (CALICO_NP, CALICO_GNP, "networkpolicies.projectcalico.org"):
        assert inventory.kind_status[key] == KindStatus.NOT_SERVED
        assert "not in the server's discovery" in inventory.kind_errors[key]
    assert requests.count("GET /apis") == 1
    assert not [line for line in requests if "projectcalico.org" in line]
    assert finished_run_fields(inventory)["status"] == CollectionRun.Status.SUCCEEDED


def test_it_finishes_a_run_without_engines_complete_and_without_asking_for_them() -> None:
    with FakeApiServer(built_in_objects()) as server:
        inventory = kube.collect(server.credentials())
        requests = list(server.requests)

    assert {inventory.kind_status[key] for key in ENGINE_KEYS} == {KindStatus.NOT_SERVED}
    assert not [line for line in requests if "cilium.io" in line or "projectcalico" in line]
    fields = finished_run_fields(inventory)
    assert fields["status"] == CollectionRun.Status.SUCCEEDED
    assert fields["last_error"] == ""


def test_it_tries_every_kind_when_discovery_cannot_be_read() -> None:
    objects = {**built_in_objects(), CALICO_GNP: []}
    with FakeApiServer(objects, discovery_status=403) as server:
        inventory = kube.collect(server.credentials())
        requests = list(server.requests)

    assert inventory.kind_status[CALICO_GNP] == KindStatus.OK
    # A 404 still says "not installed", as before discovery was asked.
    assert inventory.kind_status[CNP] == KindStatus.NOT_SERVED
    assert "GET /apis/cilium.io/v2/ciliumnetworkpolicies?limit=500" in requests


def test_it_records_an_installed_engine_the_reader_may_not_list() -> None:
    with FakeApiServer(built_in_objects(), forbidden={CALICO_NP}) as server:
        inventory = kube.collect(server.credentials())

    assert inventory.kind_status[CALICO_NP] == KindStatus.FORBIDDEN
    assert inventory.kind_status[CALICO_GNP] == KindStatus.NOT_SERVED
    assert finished_run_fields(inventory)["status"] == CollectionRun.Status.PARTIAL


def test_it_reports_engines_in_the_connection_test() -> None:
    objects = {**built_in_objects(), CNP: [], CCNP: []}
    with FakeApiServer(objects) as server:
        report = kube.test_connection(server.credentials(), timeout=2)

    assert report.resources[CNP] == "ok"
    assert report.resources[CALICO_NP] == "not_served"


def test_it_answers_discovery_naming_only_the_add_ons_it_holds() -> None:
    with (
        FakeApiServer({CNP: [], "pods": []}) as server,
        kube._session(server.credentials(), 2) as session,
    ):
        groups = orjson.loads(session.get("/apis").body)
        cilium = session.get("/apis/cilium.io")
        resources = session.get("/apis/cilium.io/v2")
        calico = session.get("/apis/crd.projectcalico.org")
        calico_version = session.get("/apis/crd.projectcalico.org/v1")

    served = {version["groupVersion"] for g in groups["groups"] for version in g["versions"]}
    assert {"apps/v1", "networking.k8s.io/v1", "cilium.io/v2"} <= served
    assert not {"crd.projectcalico.org/v1", "aquasecurity.github.io/v1alpha1"} & served
    assert orjson.loads(cilium.body)["preferredVersion"]["groupVersion"] == "cilium.io/v2"
    listed = orjson.loads(resources.body)
    assert listed["kind"] == "APIResourceList"
    assert [(r["name"], r["namespaced"]) for r in listed["resources"]] == [
        ("ciliumnetworkpolicies", True)
    ]
    assert (calico.status, calico_version.status) == (404, 404)


OLD_GROUP = {**item("networkpolicies", "a", "shop"), "apiVersion": "extensions/v1beta1"}


@pytest.mark.parametrize(
    ("file_name", "document", "expected"),
    [
        ("export.json", {"items": [item(CALICO_NP, "a", "shop")]}, CALICO_NP),
        ("export.json", {"items": [item("networkpolicies", "a", "shop")]}, "networkpolicies"),
        ("export.json", {"items": [OLD_GROUP]}, "networkpolicies"),
        (
            "export.json",
            {"kind": "NetworkPolicyList", "apiVersion": "crd.projectcalico.org/v1", "items": []},
            CALICO_NP,
        ),
        (
            "export.json",
            {"kind": "GlobalNetworkPolicy", "apiVersion": "projectcalico.org/v3"},
            "globalnetworkpolicies.projectcalico.org",
        ),
        # An empty `kubectl get ... -o json` says nothing of its kind: the file name does.
        (f"{CCNP}.json", {"kind": "List", "apiVersion": "v1", "items": []}, CCNP),
        ("export.json", {"kind": "List", "apiVersion": "v1", "items": []}, None),
        # Content wins over the name.
        ("networkpolicies.json", {"items": [item(CALICO_NP, "a", "shop")]}, CALICO_NP),
    ],
)
def test_it_tells_calico_policies_from_kubernetes_ones(
    file_name: str, document: JSON, expected: str | None
) -> None:
    assert resource_key(file_name, document) == expected


def write(directory: Path, name: str, items: list[JSON]) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": items}
    (directory / name).write_bytes(orjson.dumps(listing))


def test_it_reads_engine_files_by_group_and_knows_an_absent_crd(tmp_path: Path) -> None:
    write(tmp_path, "namespaces.json", [item("namespaces", "shop")])
    write(tmp_path, "customresourcedefinitions.json", [crd(CALICO_NP), crd(CALICO_GNP)])
    # Both files hold a kind named NetworkPolicy; each is read by its apiVersion's group.
    write(tmp_path, "networkpolicies.json", [item("networkpolicies", "k8s", "shop")])
    write(tmp_path, "calico-export.json", [item(CALICO_NP, "calico", "shop")])

    inventory = read_bundle(tmp_path)

    assert [p["metadata"]["name"] for p in inventory.items("networkpolicies")] == ["k8s"]
    assert [p["metadata"]["name"] for p in inventory.items(CALICO_NP)] == ["calico"]
    # Listed CRD, no file: we do not know its policies.
    assert inventory.kind_status[CALICO_GNP] == KindStatus.NOT_COLLECTED
    # No CRD in the list: definitively not installed.
    assert inventory.kind_status[CNP] == KindStatus.NOT_SERVED
    assert "lists no ciliumnetworkpolicies.cilium.io CRD" in inventory.kind_errors[CNP]
    # Not a custom resource of an engine: absence stays "not collected", as before.
    assert inventory.kind_status["pods"] == KindStatus.NOT_COLLECTED


def test_it_does_not_know_engines_absent_without_a_crd_list(tmp_path: Path) -> None:
    write(tmp_path, "namespaces.json", [item("namespaces", "shop")])

    inventory = read_bundle(tmp_path)

    assert {inventory.kind_status[key] for key in ENGINE_KEYS} == {KindStatus.NOT_COLLECTED}


def test_it_takes_the_collectors_word_for_an_engine_it_may_not_list(tmp_path: Path) -> None:
    write(tmp_path, "customresourcedefinitions.json", [crd(CNP)])
    (tmp_path / "collection-errors.txt").write_text(
        f"{CNP}\tforbidden\tError from server (Forbidden): {CNP} is forbidden\n"
    )

    inventory = read_bundle(tmp_path)

    assert inventory.kind_status[CNP] == KindStatus.FORBIDDEN
    assert inventory.kind_status[CCNP] == KindStatus.NOT_SERVED


def test_it_serves_a_bundles_engine_files_over_http(tmp_path: Path) -> None:
    write(tmp_path, "customresourcedefinitions.json", [crd(CALICO_GNP)])
    write(tmp_path, f"{CALICO_GNP}.json", [item(CALICO_GNP, "default-deny")])

    with FakeApiServer.from_bundle(tmp_path) as server:
        inventory = kube.collect(server.credentials(), resources=[BY_KEY[CALICO_GNP], BY_KEY[CNP]])

    assert [p["metadata"]["name"] for p in inventory.items(CALICO_GNP)] == ["default-deny"]
    assert inventory.kind_status[CNP] == KindStatus.NOT_SERVED
