"""Writes of a cluster's uploaded kube-bench runs (clusters.models.NodeBenchmark), one per node.

Editable by whoever may change the cluster. An upload is hostile until checked: it is read
and stored as every uploaded document is (clusters.stored_documents) and held to kube-bench's
documented shape (clusters.kube_bench.results_checked); any refusal is one line.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import IO, Any

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from clusters.kube_bench import (
    MAX_DOCUMENT_BYTES,
    KubeBenchError,
    node_name_checked,
    results_checked,
)
from clusters.models import Cluster, NodeBenchmark
from clusters.stored_documents import document_remove, document_store, json_upload_read


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
    parsed = json_upload_read(
        upload,
        name=name,
        limit=MAX_DOCUMENT_BYTES,
        refused=KubeBenchError,
        hint="upload kube-bench --json output",
    )
    return document_store(
        model=NodeBenchmark,
        cluster=cluster,
        key={"node": node},
        fields={"results": results_checked(parsed, where=name), "file_name": name},
        audited=_audited,
        action="node_benchmark.upload",
        by=by,
    )


@transaction.atomic
def node_benchmark_remove(*, cluster: Cluster, node: str, by: AbstractBaseUser | None) -> None:
    document_remove(
        model=NodeBenchmark,
        cluster=cluster,
        key={"node": node},
        audited=_audited,
        action="node_benchmark.remove",
        by=by,
    )
