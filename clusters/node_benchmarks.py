"""Writes of a cluster's uploaded kube-bench runs (clusters.models.NodeBenchmark), one per node.

Editable by whoever may change the cluster. An upload is hostile until checked: it is read
within MAX_DOCUMENT_BYTES (one byte past the limit at most, so a huge file is refused without
being read), parsed as JSON and held to kube-bench's documented shape
(clusters.kube_bench.results_checked); any refusal is one line. Every change is sent as
`clusters.signals.cluster_changed` inside its transaction (the compliance app audits it).
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import IO, Any

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from clusters.kube_bench import (
    MAX_DOCUMENT_BYTES,
    KubeBenchError,
    node_name_checked,
    results_checked,
)
from clusters.models import Cluster, NodeBenchmark
from clusters.signals import cluster_changed


def _audited(benchmark: NodeBenchmark) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for result in benchmark.results.values():
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return {
        "node": benchmark.node,
        "file_name": benchmark.file_name,
        "results": dict(sorted(statuses.items())),
        "sha256": hashlib.sha256(
            orjson.dumps(benchmark.results, option=orjson.OPT_SORT_KEYS)
        ).hexdigest(),
    }


def _changed(
    *,
    cluster: Cluster,
    by: AbstractBaseUser | None,
    action: str,
    benchmark: NodeBenchmark,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    cluster_changed.send(
        sender=NodeBenchmark,
        cluster=cluster,
        actor=by,
        action=action,
        object_type="nodebenchmark",
        object_id=str(benchmark.pk),
        before=before,
        after=after,
        at=timezone.now(),
    )


@transaction.atomic
def node_benchmark_upload(
    *,
    cluster: Cluster,
    node: str,
    upload: IO[bytes],
    upload_name: str,
    by: AbstractBaseUser | None,
) -> NodeBenchmark:
    """Store one node's kube-bench run, replacing that node's previous one. `node` defaults
    to the file's name (`kube-bench/<node>.json`, as a bundle names it)."""
    name = PurePath(upload_name).name[:200] or "kube-bench.json"
    node = node_name_checked(node or name.removesuffix(".json"))
    content = upload.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise KubeBenchError(f"{name} is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise KubeBenchError(f"{name} is not JSON ({exc}): upload kube-bench --json output") from (
            None
        )
    results = results_checked(parsed, where=name)
    previous = NodeBenchmark.objects.select_for_update().filter(cluster=cluster, node=node).first()
    before = _audited(previous) if previous is not None else None
    stored, _ = NodeBenchmark.objects.update_or_create(
        cluster=cluster,
        node=node,
        defaults={
            "results": results,
            "file_name": name,
            "uploaded_at": timezone.now(),
            "uploaded_by": by,  # type: ignore[misc]
        },
    )
    _changed(
        cluster=cluster,
        by=by,
        action="node_benchmark.upload",
        benchmark=stored,
        before=before,
        after=_audited(stored),
    )
    return stored


@transaction.atomic
def node_benchmark_remove(*, cluster: Cluster, node: str, by: AbstractBaseUser | None) -> None:
    benchmark = NodeBenchmark.objects.select_for_update().filter(cluster=cluster, node=node).first()
    if benchmark is None:
        return
    before = _audited(benchmark)
    benchmark_id = benchmark.pk
    benchmark.delete()
    benchmark.pk = benchmark_id
    _changed(
        cluster=cluster,
        by=by,
        action="node_benchmark.remove",
        benchmark=benchmark,
        before=before,
        after=None,
    )
