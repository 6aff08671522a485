"""The official GKE and EKS clients against local fakes over real HTTP, through a provider link.

Endpoints come from RAMPART_GKE_API_ENDPOINT / RAMPART_EKS_ENDPOINT_URL; the GKE key is a real
RSA service-account key whose token_uri is the fake's, so google-auth signs and exchanges a JWT
exactly as it would with Google; boto3 signs with SigV4 for a static test key.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from clusters import crypto
from clusters.models import Cluster, ProviderLink
from clusters.provider_links import LinkRequest, ProviderLinkError, provider_link_set
from clusters.providers import EKS, GKE, ProviderError
from clusters.tests.factories import make_cluster
from clusters.tests.fakeproviders import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    FakeEks,
    FakeGke,
    recording,
    service_account_key,
)

pytestmark = pytest.mark.django_db
GKE_TARGET = "projects/acme-orders/locations/europe-west1/clusters/orders-eu"


@pytest.fixture
def gke(settings):
    with FakeGke({GKE_TARGET: recording("gke-hardened")}) as fake:
        settings.RAMPART_GKE_API_ENDPOINT = fake.url
        settings.RAMPART_GKE_TOKEN_URI = fake.token_uri
        yield fake


@pytest.fixture
def eks(settings):
    clusters = {"orders-prod": recording("eks-hardened")}
    versions = recording("eks-cluster-versions-1.34")
    with FakeEks(clusters, cluster_versions=versions) as fake:
        settings.RAMPART_EKS_ENDPOINT_URL = fake.url
        yield fake


def gke_link(fake: FakeGke, **changes: str) -> ProviderLink:
    request = LinkRequest(
        kind="gke",
        project=changes.get("project", "acme-orders"),
        location="europe-west1",
        name=changes.get("name", "orders-eu"),
        credentials_kind="key",
        key_json=service_account_key(fake.token_uri),
    )
    return provider_link_set(cluster=make_cluster(), request=request, by=None)


def eks_link(*, cluster: Cluster | None = None, **changes: str) -> ProviderLink:
    request = LinkRequest(
        kind="eks",
        location="eu-west-1",
        name=changes.get("name", "orders-prod"),
        credentials_kind="key",
        access_key_id=changes.get("access_key_id", ACCESS_KEY_ID),
        secret_access_key=SECRET_ACCESS_KEY,
    )
    return provider_link_set(cluster=cluster or make_cluster(), request=request, by=None)


def test_it_reads_the_gke_cluster_as_the_rest_json_gcloud_prints(gke):
    link = gke_link(gke)

    fetched = GKE.source().fetch(link, timeout=5)

    recorded = recording("gke-hardened")
    cluster = fetched["cluster"]
    for field in ("name", "currentMasterVersion", "privateClusterConfig", "shieldedNodes"):
        assert cluster[field] == recorded[field], field
    assert (
        cluster["nodePools"][1]["config"]["oauthScopes"]
        == (recorded["nodePools"][1]["config"]["oauthScopes"])
    )
    assert cluster["nodePools"][0]["config"]["kubeletConfig"] == {
        "insecureKubeletReadonlyPortEnabled": False,
        "podPidsLimit": "4096",
    }
    assert "upgradeInfo" not in fetched  # the fake refuses it: optional evidence
    assert gke.requests[0] == f"GET /v1/{GKE_TARGET}"
    claims = gke.assertions[0]  # google-auth's self-signed JWT for the key
    assert claims["iss"] == "rampart-reader@acme-orders.iam.gserviceaccount.com"


def test_it_reads_gke_upgrade_info_when_allowed(gke):
    gke.upgrade_info = {"patchTargetVersion": "1.35.7-gke.1200000", "autoUpgradeStatus": ["ACTIVE"]}
    fetched = GKE.source().fetch(gke_link(gke), timeout=5)
    assert fetched["upgradeInfo"]["patchTargetVersion"] == "1.35.7-gke.1200000"


def test_it_says_which_role_gke_wants_when_denied(gke):
    gke.denied.add(GKE_TARGET)
    with pytest.raises(ProviderError) as raised:
        GKE.source().fetch(gke_link(gke), timeout=5)
    assert raised.value.forbidden
    assert "Kubernetes Engine Cluster Viewer" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_it_says_when_gke_has_no_such_cluster(gke):
    with pytest.raises(ProviderError, match=r"GKE has no cluster .*orders-us"):
        GKE.source().fetch(gke_link(gke, name="orders-us"), timeout=5)


def test_it_reports_refused_credentials_without_the_key(gke):
    gke.refuse_tokens = True
    link = gke_link(gke)
    key = json.loads(crypto.decrypt(bytes(link.credentials)))
    with pytest.raises(ProviderError) as raised:
        GKE.source().fetch(link, timeout=5)
    assert raised.value.forbidden
    assert key["private_key"][40:80] not in str(raised.value)


def test_it_reports_an_unreachable_gke_api_in_one_line(gke, settings):
    link = gke_link(gke)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.RAMPART_GKE_API_ENDPOINT = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with pytest.raises(ProviderError, match=r"unreachable|failed"):
        GKE.source().fetch(link, timeout=2)


def test_it_uses_the_worker_s_application_default_credentials(gke, tmp_path: Path, monkeypatch):
    key_file = tmp_path / "adc.json"
    key_file.write_text(service_account_key(gke.token_uri, email="worker@acme-orders.iam"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    request = LinkRequest(
        kind="gke",
        project="acme-orders",
        location="europe-west1",
        name="orders-eu",
        credentials_kind="ambient",
    )
    link = provider_link_set(cluster=make_cluster(), request=request, by=None)

    fetched = GKE.source().fetch(link, timeout=5)

    assert link.credentials == b""
    assert fetched["cluster"]["name"] == "orders-eu"
    assert gke.assertions[0]["iss"] == "worker@acme-orders.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token_uri": "https://attacker.example/token"}, "token_uri"),
        ({"type": "authorized_user"}, 'only "service_account" keys'),
        ({"private_key": "not a key"}, "cannot be read"),
    ],
)
def test_it_refuses_a_key_it_would_not_use(gke, change, message):
    key = json.loads(service_account_key(gke.token_uri)) | change
    request = LinkRequest(
        kind="gke",
        project="acme-orders",
        location="europe-west1",
        name="orders-eu",
        credentials_kind="key",
        key_json=json.dumps(key),
    )
    with pytest.raises(ProviderLinkError, match=message) as raised:
        provider_link_set(cluster=make_cluster(), request=request, by=None)
    assert "BEGIN PRIVATE KEY" not in str(raised.value)
    assert not ProviderLink.objects.exists()


def test_it_reads_the_eks_cluster_and_every_node_group_page(eks):
    link = eks_link()

    fetched = EKS.source().fetch(link, timeout=5)

    cluster = fetched["cluster"]
    recorded = recording("eks-hardened")
    assert cluster["resourcesVpcConfig"] == recorded["resourcesVpcConfig"]
    assert [g["nodegroupName"] for g in cluster["nodegroups"]] == ["apps", "system"]
    assert cluster["createdAt"].startswith("2025-03-04T10:12:44")  # a string, as the CLI prints
    assert fetched["clusterVersions"]["clusterVersions"][0]["versionStatus"] == "STANDARD_SUPPORT"
    assert eks.requests[:2] == [
        "GET /clusters/orders-prod",
        "GET /clusters/orders-prod/node-groups",
    ]
    assert "GET /cluster-versions?clusterVersions=1.34" in eks.requests


def test_it_pages_through_node_groups(eks):
    eks.clusters["batch-legacy"] = recording("eks-default")  # three groups, two per page
    fetched = EKS.source().fetch(eks_link(name="batch-legacy"), timeout=5)
    assert [g["nodegroupName"] for g in fetched["cluster"]["nodegroups"]] == [
        "workers",
        "workers-b",
        "legacy",
    ]
    assert "GET /clusters/batch-legacy/node-groups?nextToken=2" in eks.requests


def test_it_says_which_permissions_eks_wants_when_denied(eks):
    with pytest.raises(ProviderError) as raised:
        EKS.source().fetch(eks_link(access_key_id="AKIAWRONGKEY00000000"), timeout=5)
    assert raised.value.forbidden
    assert "eks:DescribeCluster" in str(raised.value)
    assert SECRET_ACCESS_KEY not in str(raised.value)


def test_it_says_when_eks_has_no_such_cluster(eks):
    with pytest.raises(ProviderError, match="EKS has no cluster eu-west-1/orders-dev"):
        EKS.source().fetch(eks_link(name="orders-dev"), timeout=5)


def test_it_uses_the_worker_s_aws_credentials(eks, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    request = LinkRequest(
        kind="eks", location="eu-west-1", name="orders-prod", credentials_kind="ambient"
    )
    link = provider_link_set(cluster=make_cluster(), request=request, by=None)
    assert EKS.source().fetch(link, timeout=5)["cluster"]["name"] == "orders-prod"


def test_it_stores_keys_encrypted_and_labels_them_without_the_secret(eks):
    link = eks_link()
    assert SECRET_ACCESS_KEY.encode() not in bytes(link.credentials)
    assert link.credentials_label == "access key …0001"
    assert SECRET_ACCESS_KEY not in json.dumps(link.as_audited())
