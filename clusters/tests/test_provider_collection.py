"""Provider data entering where it enters: a bundle file, a provider link read in the same
collection (`collect --sync` against the fake APIs), an upload; and what the checklist says."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from django.core.management import call_command

from clusters.bundles import read_bundle
from clusters.inventory import KindStatus
from clusters.models import Cluster, CollectionRun, ProviderDocument
from clusters.provider_links import LinkRequest, provider_document_upload, provider_link_set
from clusters.resources import RESOURCES
from clusters.services import cluster_register
from clusters.tests.fakeapi import FakeApiServer
from clusters.tests.fakeproviders import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    FakeEks,
    FakeGke,
    recording,
    service_account_key,
)
from clusters.tests.test_collection import small_bundle
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
GKE_TARGET = "projects/acme-orders/locations/europe-west1/clusters/orders-eu"
GKE_VERSION = {"major": "1", "minor": "35", "gitVersion": "v1.35.6-gke.1101000"}


def latest_run(name: str) -> CollectionRun:
    return Cluster.objects.get(name=name).runs.order_by("-pk").first()  # type: ignore[return-value]


def items(run: CollectionRun, guide: str) -> dict:
    return dict(run.evaluation.verdict_set.items[guide])  # type: ignore[attr-defined]


def statuses(run: CollectionRun) -> dict[str, str]:
    return dict(run.evaluation.verdict_set.statuses)  # type: ignore[attr-defined]


@pytest.fixture
def gke(settings):
    with FakeGke({GKE_TARGET: recording("gke-default-2018")}) as fake:
        settings.RAMPART_GKE_API_ENDPOINT = fake.url
        settings.RAMPART_GKE_TOKEN_URI = fake.token_uri
        yield fake


@pytest.fixture
def live_gke_cluster():
    """A live cluster whose API server reports a GKE build, with nothing else in it."""
    objects: dict[str, list] = {r.key: [] for r in RESOURCES if not r.optional}
    with FakeApiServer(objects, version=GKE_VERSION) as api:
        cluster = cluster_register(
            name="orders-eu",
            source_kind=Cluster.SourceKind.KUBECONFIG,
            kubeconfig=api.kubeconfig(),
            collect=False,
        )
        yield cluster


def link_gke(cluster: Cluster, fake: FakeGke) -> None:
    request = LinkRequest(
        kind="gke",
        project="acme-orders",
        location="europe-west1",
        name="orders-eu",
        credentials_kind="key",
        key_json=service_account_key(fake.token_uri),
    )
    provider_link_set(cluster=cluster, request=request, by=None)


def test_it_reads_the_provider_link_in_the_same_collection(gke, live_gke_cluster, capsys):
    link_gke(live_gke_cluster, gke)

    call_command("collect", "orders-eu", "--sync")

    run = latest_run("orders-eu")
    assert run.kind_status["gke-cluster"] == "ok"
    assert run.distribution == "gke"
    assert f"reading {GKE_TARGET} from the GKE API" in capsys.readouterr().out
    assert statuses(run)["provider.gke_legacy_abac"] == "fail"
    guide = items(run, "gke-hardening")
    # The 2018-style cluster fails every provider-side weakness on the GKE checklist...
    for item in ("C1", "C2", "D1", "D2", "E4", "F1", "F2", "G3", "J2", "K2", "L2", "L4", "L9"):
        assert guide[item] == "fail", item
    # ...and design items no check can judge stay manual.
    assert guide["A1"] == "manual"
    call_command("posture", "orders-eu", "--format", "json")
    document = orjson.loads(capsys.readouterr().out)
    abac = next(c for c in document["checks"] if c["id"] == "provider.gke_legacy_abac")
    assert abac["status"] == "fail"
    assert abac["summary"] == "legacyAbac.enabled = true (expected false or absent)"
    assert abac["affected"][0]["kind"] == "Cluster"


def test_it_keeps_the_kubernetes_part_when_the_provider_refuses(gke, live_gke_cluster):
    link_gke(live_gke_cluster, gke)
    gke.denied.add(GKE_TARGET)

    call_command("collect", "orders-eu", "--sync")

    run = latest_run("orders-eu")
    assert run.status == CollectionRun.Status.PARTIAL
    assert run.kind_status["gke-cluster"] == "forbidden"
    assert "Kubernetes Engine Cluster Viewer" in run.kind_errors["gke-cluster"]
    assert run.kind_status["namespaces"] == "ok"
    found = statuses(run)
    assert found["provider.gke_legacy_abac"] == "unknown"
    assert found["isolation.privileged"] != "unknown"
    guide = items(run, "gke-hardening")
    assert guide["K2"] == "manual"  # awaiting attestation, never failed for lack of data
    assert guide["D1"] == "manual"


def test_it_marks_provider_checks_unknown_on_gke_without_any_provider_data(live_gke_cluster):
    call_command("collect", "orders-eu", "--sync")
    run = latest_run("orders-eu")
    assert run.status == CollectionRun.Status.SUCCEEDED  # absent provider data is normal
    assert run.kind_status["gke-cluster"] == "not_collected"
    assert "no GKE provider link" in run.kind_errors["gke-cluster"]
    assert statuses(run)["provider.gke_private_nodes"] == "unknown"
    assert statuses(run)["provider.eks_public_endpoint"] == "not_applicable"
    assert items(run, "cis-gke")["5.6.5"] == "manual"


def test_it_reads_provider_files_inside_an_evidence_bundle(tmp_path: Path):
    bundle = small_bundle(tmp_path / "b")
    (bundle / "eks-cluster.json").write_text(json.dumps({"cluster": recording("eks-default")}))
    (bundle / "eks-cluster-versions.json").write_text(
        json.dumps(
            {"clusterVersions": [{"clusterVersion": "1.29", "versionStatus": "UNSUPPORTED"}]}
        )
    )
    inventory = read_bundle(bundle)
    assert inventory.kind_status["eks-cluster"] == KindStatus.OK
    assert inventory.kind_status["gke-cluster"] == KindStatus.NOT_COLLECTED
    assert inventory.provider["eks"]["cluster"]["name"] == "batch-legacy"
    assert inventory.provider["eks"]["clusterVersions"]["clusterVersions"][0]["clusterVersion"]

    cluster_register(name="batch", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=bundle)
    call_command("collect", "batch", "--sync")
    run = latest_run("batch")
    assert run.distribution == "eks"
    assert statuses(run)["provider.eks_version_support"] == "fail"
    assert statuses(run)["provider.gke_legacy_abac"] == "not_applicable"


def test_it_records_a_broken_provider_file_without_failing_the_bundle(tmp_path: Path):
    bundle = small_bundle(tmp_path / "b")
    (bundle / "gke-cluster.json").write_text('{"name": "x", "nodePools": [')
    inventory = read_bundle(bundle)
    assert inventory.kind_status["gke-cluster"] == KindStatus.ERROR
    assert "gke-cluster.json is not valid JSON" in inventory.kind_errors["gke-cluster"]
    assert inventory.has("pods")
    (bundle / "gke-cluster.json").write_text('{"kind": "List", "items": []}')
    assert "not a GKE Cluster resource" in read_bundle(bundle).kind_errors["gke-cluster"]


def test_it_uses_an_upload_until_replaced_and_prefers_the_bundle_and_the_link(
    tmp_path: Path, gke, settings
):
    bundle = small_bundle(tmp_path / "b")
    cluster = cluster_register(
        name="air-gapped", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=bundle
    )
    hardened = json.dumps(recording("gke-hardened")).encode()
    provider_document_upload(
        cluster=cluster,
        kind="gke",
        upload=__import__("io").BytesIO(hardened),
        upload_name="describe.json",
        by=None,
    )
    call_command("collect", "air-gapped", "--sync")
    run = latest_run("air-gapped")
    assert run.kind_status["gke-cluster"] == "ok"
    assert statuses(run)["provider.gke_legacy_abac"] == "pass"  # the hardened upload

    link_gke(cluster, gke)  # the live link wins over the upload: the 2018 cluster
    call_command("collect", "air-gapped", "--sync")
    assert statuses(latest_run("air-gapped"))["provider.gke_legacy_abac"] == "fail"

    gke.denied.add(GKE_TARGET)  # a failing link is not papered over by the older upload
    call_command("collect", "air-gapped", "--sync")
    assert latest_run("air-gapped").kind_status["gke-cluster"] == "forbidden"
    assert ProviderDocument.objects.filter(cluster=cluster).count() == 1


def test_it_reads_an_eks_link_with_a_static_key(settings, tmp_path: Path):
    with FakeEks({"batch-legacy": recording("eks-default")}) as fake:
        settings.RAMPART_EKS_ENDPOINT_URL = fake.url
        cluster = cluster_register(
            name="batch",
            source_kind=Cluster.SourceKind.BUNDLE,
            bundle_path=small_bundle(tmp_path / "b"),
        )
        request = LinkRequest(
            kind="eks",
            location="us-east-1",
            name="batch-legacy",
            credentials_kind="key",
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
        )
        provider_link_set(cluster=cluster, request=request, by=None)
        call_command("collect", "batch", "--sync")
    run = latest_run("batch")
    assert run.kind_status["eks-cluster"] == "ok"
    found = statuses(run)
    assert found["provider.eks_public_endpoint"] == "fail"
    assert found["provider.eks_version_support"] == "fail"  # no EKS calendar: upstream's says so
    assert AuditEvent.objects.filter(action="provider_link.set", cluster_name="batch").exists()


def test_it_completes_the_gke_checklist_from_provider_data_with_evidence(tmp_path: Path):
    """Done-when of issue 12: under the GKE hardening guide every GKE-evidence item is pass or
    fail from the Cluster resource, its reason quoting the field path and value; without the
    data the same items stay manual."""
    from compliance.checklist import cluster_state, item_row
    from posture.guides import guide_get

    guide = guide_get("gke-hardening")
    assert guide is not None
    provider_side = [item for item in guide.items if item.evidence == "GKE"]
    for name, recorded in (("legacy", "gke-default-2018"), ("hardened", "gke-hardened")):
        bundle = small_bundle(tmp_path / name)
        (bundle / "version.json").write_text(json.dumps(GKE_VERSION))
        (bundle / "gke-cluster.json").write_text(json.dumps(recording(recorded)))
        cluster_register(name=name, source_kind=Cluster.SourceKind.BUNDLE, bundle_path=bundle)
        call_command("collect", name, "--sync")
    bare = small_bundle(tmp_path / "bare")
    (bare / "version.json").write_text(json.dumps(GKE_VERSION))
    cluster_register(name="bare", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=bare)
    call_command("collect", "bare", "--sync")

    rows = {
        name: {
            item.id: item_row(guide, item, cluster_state(Cluster.objects.get(name=name)))
            for item in provider_side
        }
        for name in ("legacy", "hardened", "bare")
    }
    # The 2018 cluster fails every provider-side weakness; K1 quotes the fields it read.
    legacy = rows["legacy"]
    judged = {"B2", "C1", "C2", "D1", "D2", "E4", "E5", "F1", "F2", "G1", "G3", "J2", "J3"}
    judged |= {"J4", "J5", "K1", "K2", "K3", "L2", "L4", "L8", "L9", "L10", "L11", "L12"}
    for item_id in judged:
        assert legacy[item_id].status == "fail", (item_id, legacy[item_id].reason)
    assert "legacyAbac.enabled = true" in legacy["K2"].reason
    assert "nodePools[default-pool].config.imageType" in legacy["C2"].reason
    # Autopilot is a consideration: a Standard cluster is not applicable, never failed.
    assert legacy["L15"].status == "not_applicable"
    # The hardened one fails none of them: items judged by provider checks alone pass; in
    # items that also weigh Kubernetes-side checks (J1 patch levels, L4 the test bundle's
    # nginx:latest, K1 bindings this small bundle lacks) every provider entry passes.
    hardened = rows["hardened"]
    for item_id, row in hardened.items():
        provider_rows = [r for r in row.checks if r.key.startswith("provider.")]
        if len(provider_rows) == len(row.checks):
            assert row.status in ("pass", "not_applicable"), (item_id, row.reason)
        for entry in provider_rows:
            assert entry.result is not None
            assert entry.result.raw_status in ("pass", "not_applicable"), (item_id, entry.key)
    # Without provider data nothing provider-side fails: manual, awaiting an attestation.
    bare_rows = rows["bare"]
    for item_id in judged - {"K1", "K3", "L4", "J4"}:
        assert bare_rows[item_id].status == "manual", (item_id, bare_rows[item_id].status)
    assert "gke-cluster" in bare_rows["K2"].reason
