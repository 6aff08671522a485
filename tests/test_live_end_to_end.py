"""The issue-2 promise, over real HTTP: register a cluster's kubeconfig, `collect --sync`,
`posture --format json`, and every planted problem is there, named by its owning workload.

The cluster is a demo bundle served by the fake API server, so the `kubernetes` client pages,
authenticates with a bearer token and probes anonymous access. A bundle's provider files are
served by the fake GKE or EKS API instead, read through a provider link in the same
collection by google-cloud-container or boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from clusters.models import Cluster
from clusters.provider_links import LinkRequest, provider_link_set
from clusters.tests.fakeapi import FakeApiServer
from clusters.tests.fakeproviders import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    FakeEks,
    FakeGke,
    service_account_key,
)

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[1] / "demo" / "bundles"


@contextmanager
def provider_apis(bundle: Path, settings: Any) -> Iterator[list[LinkRequest]]:
    """Serve the bundle's provider files from fake provider APIs; yield the links to them."""
    links: list[LinkRequest] = []
    with ExitStack() as stack:
        gke_file = bundle / "gke-cluster.json"
        if gke_file.is_file():
            cluster = orjson.loads(gke_file.read_bytes())
            target = cluster["selfLink"].split("/v1/", 1)[1]
            info = bundle / "gke-upgrade-info.json"
            upgrade = orjson.loads(info.read_bytes()) if info.is_file() else None
            gke = stack.enter_context(FakeGke({target: cluster}, upgrade_info=upgrade))
            settings.RAMPART_GKE_API_ENDPOINT = gke.url
            settings.RAMPART_GKE_TOKEN_URI = gke.token_uri
            _, project, _, location, _, name = target.split("/")
            links.append(
                LinkRequest(
                    kind="gke",
                    project=project,
                    location=location,
                    name=name,
                    credentials_kind="key",
                    key_json=service_account_key(gke.token_uri),
                )
            )
        eks_file = bundle / "eks-cluster.json"
        if eks_file.is_file():
            cluster = orjson.loads(eks_file.read_bytes())
            versions = bundle / "eks-cluster-versions.json"
            eks = stack.enter_context(
                FakeEks(
                    {cluster["name"]: cluster},
                    cluster_versions=orjson.loads(versions.read_bytes()),
                )
            )
            settings.RAMPART_EKS_ENDPOINT_URL = eks.url
            links.append(
                LinkRequest(
                    kind="eks",
                    location=cluster["arn"].split(":")[3],
                    name=cluster["name"],
                    credentials_kind="key",
                    access_key_id=ACCESS_KEY_ID,
                    secret_access_key=SECRET_ACCESS_KEY,
                )
            )
        yield links


@pytest.mark.parametrize("name", ["storefront-staging", "payments-prod", "edge-dev", "orders-eks"])
def test_it_shows_every_planted_problem_of_a_live_cluster(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    # Many pages, many continue tokens.
    settings.RAMPART_KUBE_PAGE_SIZE = 7  # type: ignore[attr-defined]
    # The demo's end-of-life expectations were written for this date.
    monkeypatch.setattr(
        "django.utils.timezone.localdate", lambda value=None, timezone=None: date(2026, 11, 26)
    )
    expected = orjson.loads((DEMO / name / "EXPECTED.json").read_bytes())
    with (
        FakeApiServer.from_bundle(DEMO / name) as server,
        provider_apis(DEMO / name, settings) as links,
    ):
        kubeconfig = tmp_path / "kubeconfig.yaml"
        kubeconfig.write_text(server.kubeconfig())
        call_command("register_cluster", name, "--kubeconfig", str(kubeconfig), "--no-collect")
        for link in links:
            provider_link_set(cluster=Cluster.objects.get(name=name), request=link, by=None)
        call_command("collect", name, "--sync")
    capsys.readouterr()
    call_command("posture", name, "--format", "json")
    document = orjson.loads(capsys.readouterr().out)
    assert document["collection"]["status"] in ("succeeded", "partial")
    for link in links:  # read through the provider link, in the same collection
        assert document["collection"]["kind_status"][f"{link.kind}-cluster"] == "ok"
    checks = {check["id"]: check for check in document["checks"]}
    for check_id, planted in expected["fail"].items():
        check = checks[check_id]
        assert check["status"] == "fail", (check_id, check["summary"])
        found = {(a["kind"], a["namespace"], a["name"]) for a in check["affected"]}
        for item in planted:
            assert (item["kind"], item["namespace"], item["name"]) in found, (check_id, item)
    # What the collector may not list (edge-dev's RBAC) is unknown, never a pass.
    for check_id in expected.get("unknown", []):
        assert checks[check_id]["status"] == "unknown", check_id
        assert "forbidden" in checks[check_id]["summary"]
    # A live source probes anonymous access, which a bundle cannot.
    assert checks["access.anonymous_api"]["status"] == "pass"


def test_it_lists_failing_pods_to_a_reader_forbidden_replicasets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Evidence in hand is never hidden: pods alone show the baseline violations, named as
    pods (their owners cannot be attributed), and the verdict says what was not collected."""
    with FakeApiServer.from_bundle(DEMO / "payments-prod", forbidden={"replicasets"}) as server:
        kubeconfig = tmp_path / "kubeconfig.yaml"
        kubeconfig.write_text(server.kubeconfig())
        call_command(
            "register_cluster", "pods-only", "--kubeconfig", str(kubeconfig), "--no-collect"
        )
        call_command("collect", "pods-only", "--sync")
    capsys.readouterr()
    call_command("posture", "pods-only", "--format", "json")
    document = orjson.loads(capsys.readouterr().out)
    assert document["collection"]["status"] == "partial"
    baseline = next(c for c in document["checks"] if c["id"] == "pss.baseline")
    assert baseline["status"] == "fail"
    assert "replicasets" in baseline["missing"]
    assert "Not collected: replicasets forbidden" in baseline["summary"]
    kinds = {a["kind"] for a in baseline["affected"]}
    assert "Pod" in kinds
    assert baseline["controls"]["privileged"]["status"] == "fail"
