"""Registering, collecting (in process) and the posture document, end to end."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command

from clusters import crypto
from clusters.bundles import read_bundle
from clusters.inventory import KindStatus
from clusters.models import Cluster, CollectionRun
from clusters.services import (
    CollectionAlreadyActive,
    RegistrationError,
    cluster_credentials,
    cluster_register,
    collection_request,
    credentials_rotate_all,
)
from pipeline.collection import collection_execute

pytestmark = pytest.mark.django_db

VERSION = {"major": "1", "minor": "35", "gitVersion": "v1.35.8"}


def kubectl_list(kind: str, items: list[dict]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [{"kind": kind, **item} for item in items],
    }


def small_bundle(directory: Path, *, with_rbac: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "version.json": VERSION,
        "namespaces.json": kubectl_list("Namespace", [{"metadata": {"name": "web"}}]),
        "pods.json": kubectl_list(
            "Pod",
            [
                {
                    "metadata": {
                        "name": "api-7d9-x1",
                        "namespace": "web",
                        "ownerReferences": [
                            {"kind": "ReplicaSet", "name": "api-7d9", "controller": True}
                        ],
                        "managedFields": [{"manager": "kubectl"}],
                    },
                    "spec": {
                        "containers": [
                            {
                                "name": "api",
                                "image": "nginx:latest",
                                "securityContext": {"privileged": True},
                            }
                        ]
                    },
                }
            ],
        ),
        "replicasets.json": kubectl_list(
            "ReplicaSet",
            [
                {
                    "metadata": {
                        "name": "api-7d9",
                        "namespace": "web",
                        "ownerReferences": [
                            {"kind": "Deployment", "name": "api", "controller": True}
                        ],
                    },
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": "api", "image": "nginx:latest"}]}
                        }
                    },
                }
            ],
        ),
        "deployments.json": kubectl_list(
            "Deployment",
            [
                {
                    "metadata": {"name": "api", "namespace": "web"},
                    "spec": {
                        "template": {
                            "metadata": {"labels": {"app": "api"}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "api",
                                        "image": "nginx:latest",
                                        "securityContext": {"privileged": True},
                                    }
                                ]
                            },
                        }
                    },
                }
            ],
        ),
    }
    # Empty lists are evidence too: "no DaemonSets" is not the same as "DaemonSets not collected".
    for key, kind in (
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
        ("jobs", "Job"),
        ("cronjobs", "CronJob"),
    ):
        files[f"{key}.json"] = kubectl_list(kind, [])
    if with_rbac:
        files["clusterrolebindings.json"] = kubectl_list(
            "ClusterRoleBinding",
            [
                {
                    "metadata": {"name": "oncall-admin"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "User", "name": "oncall@example.com"}],
                }
            ],
        )
    for name, body in files.items():
        (directory / name).write_bytes(orjson.dumps(body))
    return directory


def register_bundle(tmp_path: Path, name: str = "small", *, with_rbac: bool = True) -> Cluster:
    return cluster_register(
        name=name,
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=small_bundle(tmp_path / name, with_rbac=with_rbac),
        environment="Staging",
        owners=["Owner@Example.com"],
    )


def test_it_reads_each_files_kind_from_its_content_not_its_name(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path / "b")
    (bundle / "pods.json").rename(bundle / "whatever-i-called-it.json")
    inventory = read_bundle(bundle)
    assert inventory.has("pods")
    assert "managedFields" not in inventory.items("pods")[0]["metadata"]
    assert inventory.kind_status["nodes"] == KindStatus.NOT_COLLECTED


def test_it_registers_a_bundle_and_collects_it_in_process(tmp_path: Path) -> None:
    cluster = register_bundle(tmp_path)
    assert cluster.environment == "staging"
    assert list(cluster.owners.values_list("email", flat=True)) == ["owner@example.com"]
    run = cluster.runs.get()
    assert run.status == CollectionRun.Status.PENDING
    assert (run.bundle.name or "").endswith(".tar.gz")
    finished = collection_execute(run_id=run.pk)
    assert finished is not None
    # nodes, services, ... are not in the bundle: the run is partial, never silently complete.
    assert finished.status == CollectionRun.Status.PARTIAL
    assert finished.kind_status["nodes"] == "not_collected"
    assert finished.kubernetes_version == "v1.35.8"
    cluster.refresh_from_db()
    assert cluster.latest_evaluation is not None
    assert cluster.latest_run_id == run.pk


def test_it_claims_a_run_once(tmp_path: Path) -> None:
    run = register_bundle(tmp_path).runs.get()
    assert collection_execute(run_id=run.pk) is not None
    assert collection_execute(run_id=run.pk) is None  # a duplicate message does nothing


def test_it_refuses_a_second_active_collection(tmp_path: Path) -> None:
    cluster = register_bundle(tmp_path)
    with pytest.raises(CollectionAlreadyActive):
        collection_request(cluster=cluster, trigger=CollectionRun.Trigger.MANUAL)


def test_it_reclaims_a_run_left_running_by_a_dead_worker(tmp_path: Path) -> None:
    run = register_bundle(tmp_path).runs.get()
    CollectionRun.objects.filter(pk=run.pk).update(status=CollectionRun.Status.RUNNING)
    assert collection_execute(run_id=run.pk) is None
    finished = collection_execute(run_id=run.pk, reclaim_running=True)
    assert finished is not None and finished.status == CollectionRun.Status.PARTIAL
    assert finished.attempts == 1


def test_it_prints_the_posture_as_json_with_every_affected_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_bundle(tmp_path)
    call_command("collect", "small", "--sync")
    capsys.readouterr()
    call_command("posture", "small", "--format", "json")
    document = orjson.loads(capsys.readouterr().out)
    assert document["cluster"] == "small"
    assert set(document["collection"]) >= {"id", "status", "started_at", "finished_at"}
    assert document["kubernetes_version"] == "v1.35.8"
    assert 0 <= document["score"] <= 100 and 0 < document["coverage"] < 100
    assert set(document["areas"]) == {"patching", "network", "access", "isolation", "supply_chain"}
    checks = {check["id"]: check for check in document["checks"]}
    for check in checks.values():
        assert set(check) >= {
            "id",
            "title",
            "area",
            "severity",
            "status",
            "references",
            "affected",
            "affected_total",
        }
        assert check["affected_total"] == len(check["affected"])
    privileged = checks["isolation.privileged"]
    assert privileged["status"] == "fail"
    assert (
        privileged["affected"][0]["kind"] == "Deployment"
        and privileged["affected"][0]["name"] == "api"
    )
    # Nodes were not in the bundle: node checks are unknown, never pass.
    assert checks["patching.kubelet_skew"]["status"] == "unknown"


def test_it_marks_rbac_checks_unknown_when_rbac_was_not_collected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_bundle(tmp_path, name="norbac", with_rbac=False)
    call_command("collect", "norbac", "--sync")
    capsys.readouterr()
    call_command("posture", "norbac", "--format", "json")
    checks = {c["id"]: c for c in orjson.loads(capsys.readouterr().out)["checks"]}
    assert checks["access.cluster_admin_bindings"]["status"] == "unknown"
    assert "clusterrolebindings" in checks["access.cluster_admin_bindings"]["summary"]


def test_it_refuses_a_truncated_bundle_and_stores_nothing(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path / "t")
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for file in bundle.iterdir():
            tar.add(file, arcname=file.name)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(RegistrationError, match="truncated"):
        cluster_register(
            name="broken", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=truncated
        )
    assert not Cluster.objects.exists()


def test_it_refuses_an_oversized_upload(tmp_path: Path, settings: object) -> None:
    settings.RAMPART_MAX_UPLOAD_BYTES = 100  # type: ignore[attr-defined]
    with pytest.raises(RegistrationError, match="limit"):
        cluster_register(
            name="big",
            source_kind=Cluster.SourceKind.BUNDLE,
            bundle_upload=io.BytesIO(b"x" * 1000),
            bundle_upload_name="big.tar.gz",
        )
    assert not Cluster.objects.exists()


def test_it_records_a_bad_file_in_a_bundle_as_an_error_not_as_empty(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path / "bad")
    (bundle / "services.json").write_text('{"kind": "List", "items": [')
    inventory = read_bundle(bundle)
    assert inventory.kind_status["services"] == KindStatus.ERROR
    assert "not valid JSON" in inventory.kind_errors["services"]


KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster: {server: "https://prod.example.com:6443"}
users:
- name: reader
  user: {token: "super-secret-token-value"}
contexts:
- name: prod
  context: {cluster: prod, user: reader}
"""


def test_it_encrypts_credentials_and_rotates_keys(settings: object) -> None:
    first = crypto.generate_key()
    settings.RAMPART_ENCRYPTION_KEYS = [first]  # type: ignore[attr-defined]
    cluster = cluster_register(
        name="prod", source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=KUBECONFIG, collect=False
    )
    stored = bytes(Cluster.objects.get(pk=cluster.pk).credentials)
    assert b"super-secret-token-value" not in stored
    assert cluster_credentials(cluster).token == "super-secret-token-value"
    settings.RAMPART_ENCRYPTION_KEYS = [crypto.generate_key(), first]  # type: ignore[attr-defined]
    assert credentials_rotate_all() == 1
    settings.RAMPART_ENCRYPTION_KEYS = settings.RAMPART_ENCRYPTION_KEYS[:1]  # type: ignore[attr-defined]
    assert (
        cluster_credentials(Cluster.objects.get(pk=cluster.pk)).token == "super-secret-token-value"
    )


def test_it_refuses_a_kubeconfig_that_would_run_a_command() -> None:
    exec_config = KUBECONFIG.replace(
        'user: {token: "super-secret-token-value"}',
        "user: {exec: {command: gcloud, apiVersion: client.authentication.k8s.io/v1}}",
    )
    with pytest.raises(RegistrationError, match="exec"):
        cluster_register(
            name="exec", source_kind=Cluster.SourceKind.KUBECONFIG, kubeconfig=exec_config
        )
    assert not Cluster.objects.exists()


def test_it_explains_a_missing_cluster_on_the_command_line() -> None:
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("collect", "nope", "--sync")
