"""deploy/kubernetes: Rampart itself as plain manifests (kustomize), structurally sound, free
of secrets, and passing its own Pod Security "restricted" evaluation on every pod template."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.health import LIVENESS_PATH, READINESS_PATH
from posture.pss import evaluate_pod

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
NAMESPACE = "rampart"
SECRET_NAME = "rampart-secrets"
SECRET_SETTINGS = {
    "SECRET_KEY",
    "RAMPART_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "EMAIL_HOST_PASSWORD",
    "RAMPART_OIDC_CLIENT_SECRET",
}
WORKLOAD_KINDS = {"Deployment", "Job"}


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())


def manifests() -> list[dict[str, Any]]:
    documents = []
    for name in kustomization()["resources"]:
        documents += [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]
    return documents


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_templates() -> list[tuple[str, dict[str, Any]]]:
    return [
        (m["metadata"]["name"], m["spec"]["template"])
        for m in manifests()
        if m["kind"] in WORKLOAD_KINDS
    ]


def test_it_lists_every_manifest_in_the_kustomization():
    listed = set(kustomization()["resources"])
    on_disk = {path.name for path in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}

    assert listed == on_disk
    assert {image["name"] for image in kustomization()["images"]} == {"rampart"}


def test_it_runs_web_worker_beat_and_a_migrations_job():
    web = find("Deployment", "rampart-web")
    worker = find("Deployment", "rampart-worker")
    beat = find("Deployment", "rampart-beat")
    migrate = find("Job", "rampart-migrate")

    assert web["spec"]["template"]["spec"]["containers"][0]["command"][0] == "gunicorn"
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"][:4] == [
        "celery",
        "-A",
        "config",
        "worker",
    ]
    assert beat["spec"]["template"]["spec"]["containers"][0]["command"][3] == "beat"
    # Two beats would enqueue everything twice: one replica, never overlapping in a rollout.
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert migrate["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    assert migrate["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    for deployment in (web, worker, beat):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_it_serves_the_web_pods_through_a_service_on_their_port():
    web = find("Deployment", "rampart-web")
    service = find("Service", "rampart-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}

    assert (
        service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    assert f"--bind=0.0.0.0:{port_names['http']}" in container["command"]


def test_it_probes_the_web_on_the_health_endpoints():
    container = find("Deployment", "rampart-web")["spec"]["template"]["spec"]["containers"][0]

    assert container["livenessProbe"]["httpGet"]["path"] == LIVENESS_PATH
    assert container["startupProbe"]["httpGet"]["path"] == LIVENESS_PATH
    assert container["readinessProbe"]["httpGet"]["path"] == READINESS_PATH
    worker = find("Deployment", "rampart-worker")["spec"]["template"]["spec"]["containers"][0]
    assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])


def test_it_collects_in_cluster_with_the_read_only_role():
    worker = find("Deployment", "rampart-worker")["spec"]["template"]["spec"]
    binding = find("ClusterRoleBinding", "rampart-reader")
    find("ClusterRole", "rampart-reader")  # its rules are rampart-reader-rbac.yaml's own

    assert worker["serviceAccountName"] == "rampart-reader"
    assert worker["automountServiceAccountToken"] is True
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "rampart-reader",
    }
    assert {"kind": "ServiceAccount", "name": "rampart-reader", "namespace": NAMESPACE} in binding[
        "subjects"
    ]
    # Pods that talk to no API server carry no token.
    for name in ("rampart-beat", "rampart-migrate"):
        kind = "Job" if name == "rampart-migrate" else "Deployment"
        spec = find(kind, name)["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == "rampart"
        assert spec["automountServiceAccountToken"] is False
    assert find("ServiceAccount", "rampart")["automountServiceAccountToken"] is False


def test_it_keeps_every_object_in_the_restricted_namespace():
    namespace = find("Namespace", NAMESPACE)
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}

    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for manifest in manifests():
        if manifest["kind"] not in cluster_scoped:
            assert manifest["metadata"]["namespace"] == NAMESPACE, manifest["metadata"]["name"]


def test_it_contains_no_secrets():
    text = "\n".join(path.read_text() for path in DEPLOY.glob("*.yaml"))
    # Only the kustomization's instructions show a URL shape, with PASSWORD as a placeholder.
    yaml_only = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))

    assert not [m for m in manifests() if m["kind"] == "Secret"]
    assert not re.search(r"(postgres|postgresql|redis|rediss)://", yaml_only)
    for name, template in pod_templates():
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                assert variable["name"] not in SECRET_SETTINGS, (name, variable["name"])
            secret_refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
            assert secret_refs == [SECRET_NAME], name
    config = find("ConfigMap", "rampart-config")["data"]
    assert not SECRET_SETTINGS & set(config)


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_it_passes_its_own_pod_security_check(level):
    templates = pod_templates()

    assert len(templates) == 4
    for name, template in templates:
        violations = evaluate_pod(
            template.get("metadata"), template["spec"], level=level, version="latest"
        )
        assert violations == [], (name, [v.__dict__ for v in violations])


def test_it_hardens_every_container_beyond_the_standard():
    for name, template in pod_templates():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[bound]), (name, bound)
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, name  # the only writable place besides /data


def test_it_admits_only_the_dashboard_port():
    deny = find("NetworkPolicy", "default-deny-ingress")
    web = find("NetworkPolicy", "rampart-web-ingress")

    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert web["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
