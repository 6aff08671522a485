"""The opt-in role that lets the collector read kube-bench results: one namespace, read only."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

MANIFEST = (
    Path(__file__).resolve().parents[1]
    / "deploy"
    / "kubernetes"
    / "optional"
    / "rampart-kube-bench-rbac.yaml"
)


def test_it_grants_only_reading_jobs_pods_and_their_logs_in_the_kube_bench_namespace():
    documents = [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]
    role = next(doc for doc in documents if doc["kind"] == "Role")
    binding = next(doc for doc in documents if doc["kind"] == "RoleBinding")

    assert {doc["kind"] for doc in documents} == {"Role", "RoleBinding"}  # nothing cluster-wide
    namespace = settings.RAMPART_KUBE_BENCH_NAMESPACE
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("batch", "jobs", "get"),
        ("batch", "jobs", "list"),
        ("", "pods", "get"),
        ("", "pods", "list"),
        ("", "pods/log", "get"),
    }
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "rampart-reader", "namespace": "rampart"}
    ]
