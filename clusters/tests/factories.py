"""Small factories: a cluster, a run, an evaluation with its results. No fixture files."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.utils import timezone

from clusters.models import Cluster, ClusterOwner, CollectionRun
from posture.checks.base import REGISTRY, Area, Check, Outcome, Reference, Severity
from posture.models import Evaluation
from posture.results import Verdict

TOKEN = "s3cr3t-bearer-token-that-must-never-be-shown-0123456789"


def kubeconfig(*, token: str = TOKEN, server: str = "https://kube.example.com:6443") -> str:
    return f"""apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster:
    server: {server}
contexts:
- name: prod
  context:
    cluster: prod
    user: reader
users:
- name: reader
  user:
    token: {token}
"""


def bundle_bytes() -> bytes:
    """A minimal evidence bundle (.tar.gz): the version and an empty namespace list."""
    files = {
        "version.json": {"major": "1", "minor": "31", "gitVersion": "v1.31.4"},
        "namespaces.json": {"apiVersion": "v1", "kind": "List", "items": []},
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, document in files.items():
            data = orjson.dumps(document)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_cluster(
    name: str = "prod-eu",
    *,
    environment: str = "production",
    source_kind: str = Cluster.SourceKind.KUBECONFIG,
    owners: Iterable[str] = (),
    **fields: Any,
) -> Cluster:
    cluster = Cluster.objects.create(
        name=name, environment=environment, source_kind=source_kind, **fields
    )
    ClusterOwner.objects.bulk_create(ClusterOwner(cluster=cluster, email=e) for e in owners)
    return cluster


def make_run(
    cluster: Cluster,
    *,
    status: str = CollectionRun.Status.SUCCEEDED,
    trigger: str = CollectionRun.Trigger.SCHEDULE,
    created_at: datetime | None = None,
    latest: bool = True,
    **fields: Any,
) -> CollectionRun:
    created_at = created_at or timezone.now()
    if status != CollectionRun.Status.PENDING:
        fields.setdefault("started_at", created_at + timedelta(seconds=1))
    if status not in CollectionRun.ACTIVE_STATUSES:
        fields.setdefault("finished_at", created_at + timedelta(seconds=43))
    if status in CollectionRun.COMPLETED_STATUSES:
        fields.setdefault("object_counts", {"pods": 12, "namespaces": 3})
        fields.setdefault("kubernetes_version", "v1.31.4")
    run = CollectionRun.objects.create(
        cluster=cluster, status=status, trigger=trigger, created_at=created_at, **fields
    )
    if latest:
        Cluster.objects.filter(pk=cluster.pk).update(latest_run=run)
        cluster.latest_run = run
    return run


def affected(count: int, *, kind: str = "Deployment", namespace: str = "shop") -> list[dict]:
    return [
        {"kind": kind, "namespace": namespace, "name": f"app-{i:05d}", "detail": "privileged"}
        for i in range(count)
    ]


def make_evaluation(
    cluster: Cluster,
    *,
    results: Iterable[dict[str, Any]] = (),
    score_value: float | str | None = "computed",
    coverage: float | None = None,
    created_at: datetime | None = None,
    run: CollectionRun | None = None,
    latest: bool = True,
) -> Evaluation:
    """An evaluation with its results, derived and stored by the real code (no waivers).

    Each result is a dict: check_id, status, and optionally summary, affected (a list),
    controls and missing. `score_value` / `coverage` overwrite the derived figures for tests
    about how pages show given numbers.
    """
    from posture.evaluation import Governance, derive
    from posture.services import derive_context, evaluation_store

    created_at = created_at or timezone.now()
    run = run or make_run(cluster, created_at=created_at, latest=latest)
    verdicts = [
        Verdict(
            check_id=row["check_id"],
            status=row["status"],
            summary=row.get("summary", ""),
            affected=row.get("affected", []),
            controls=row.get("controls", {}),
            missing=row.get("missing", ()),
        )
        for row in results
    ]
    governance = Governance()
    derived = derive(
        verdicts,
        governance=governance,
        context=derive_context(
            today=timezone.localdate(created_at),
            kubernetes_version=run.kubernetes_version,
            kind_status=run.kind_status or {},
        ),
    )
    evaluation = evaluation_store(
        run=run, verdicts=verdicts, derived=derived, governance=governance, created_at=created_at
    )
    overrides: dict[str, Any] = {}
    if score_value != "computed":
        overrides["score"] = score_value
    if coverage is not None:
        overrides["coverage"] = coverage
    if overrides:
        Evaluation.objects.filter(pk=evaluation.pk).update(**overrides)
        evaluation.refresh_from_db()
    if latest:
        Cluster.objects.filter(pk=cluster.pk).update(latest_evaluation=evaluation)
        cluster.latest_evaluation = evaluation
    return evaluation


def _never(inventory: Any, context: Any) -> Outcome:
    raise AssertionError("test checks are never evaluated")


SAMPLE_CHECKS = (
    Check(
        id="test.cluster-admin-bindings",
        title="Cluster-admin granted to people",
        area=Area.ACCESS,
        severity=Severity.CRITICAL,
        rationale="cluster-admin can do anything, including reading every secret.",
        remediation="Bind narrower roles to people and groups.",
        needs=("clusterrolebindings",),
        references=(
            Reference(
                "cis-kubernetes", "5.1.1", "1.9", "Ensure cluster-admin is used only where required"
            ),
        ),
        evaluate=_never,
    ),
    Check(
        id="test.default-deny",
        title="Namespaces without a default-deny NetworkPolicy",
        area=Area.NETWORK,
        severity=Severity.MEDIUM,
        rationale="Without a default deny every pod may talk to every other pod.",
        remediation="Add a default-deny NetworkPolicy to every namespace.",
        needs=("networkpolicies", "namespaces"),
        references=(Reference("nsa-cisa", "Network separation", "1.2"),),
        evaluate=_never,
    ),
    Check(
        id="test.latest-tags",
        title="Images pinned by mutable tags",
        area=Area.SUPPLY_CHAIN,
        severity=Severity.LOW,
        rationale="A tag can be moved to another image.",
        remediation="Pin images by digest.",
        needs=("pods",),
        references=(),
        evaluate=_never,
    ),
)


@contextmanager
def sample_checks() -> Iterator[tuple[Check, ...]]:
    """Three known checks in the registry for the length of a test, whatever the catalog holds."""
    for check in SAMPLE_CHECKS:
        REGISTRY[check.id] = check
    try:
        yield SAMPLE_CHECKS
    finally:
        for check in SAMPLE_CHECKS:
            REGISTRY.pop(check.id, None)
