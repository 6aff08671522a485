"""Section 3: collections per minute with 1 and with 2 Celery worker processes.

K bundle clusters are registered through clusters.services.cluster_register (a mid-size
synthetic bundle written by bench.synth.write_bundle, packed once as .tar.gz), so the fake API
server is not in the loop: on 2 cores it would compete with the workers. Each worker is a real
`celery -A config worker --concurrency 1` process on the configured broker, listening on the
bench's own queue. Per repetition and worker count: start the workers, wait until each logs
"ready", request a collection of every cluster in one transaction, and time until all runs are
finished (polled from the database). Registration's own first runs are a warm-up.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.env import BenchEnv
from bench.proc import PYTHON, ROOT, child_env, median, ratio, stop
from bench.synth import synthetic_cluster, write_bundle

FINISHED = ("succeeded", "partial", "failed")


def run(
    env: BenchEnv,
    *,
    clusters: int,
    pods: int,
    repeats: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from clusters.models import Cluster, CollectionRun
    from clusters.services import cluster_register

    log(f"scale-out: writing a {pods:,}-pod bundle and registering {clusters} clusters")
    bundle = _bundle(env.data_dir / "scaleout", pods)
    for index in range(clusters):
        cluster_register(name=f"bench-scale-{index:03d}", source_kind="bundle", bundle_path=bundle)
    names = [f"bench-scale-{i:03d}" for i in range(clusters)]
    registered = list(Cluster.objects.filter(name__in=names))
    first_runs = list(
        CollectionRun.objects.filter(cluster__in=registered).values_list("pk", flat=True)
    )
    out: dict[str, Any] = {
        "clusters": clusters,
        "bundle_pods": pods,
        "bundle_bytes": bundle.stat().st_size,
        "repeats": repeats,
        "broker": env.broker_url.split("://", 1)[0],
        "runs": {"1": [], "2": []},
    }
    warm = list(first_runs)
    for rep in range(repeats):
        for workers in (1, 2):
            log(f"scale-out: {workers} worker(s), repetition {rep + 1}/{repeats}")
            with _workers(env, workers, tag=f"r{rep}w{workers}"):
                if warm:  # registration's runs: a warm-up, not measured
                    _wait(warm, timeout=600)
                    warm = []
                seconds, failed = _batch(registered)
            per_minute = clusters / seconds * 60
            out["runs"][str(workers)].append(
                {"seconds": round(seconds, 3), "per_minute": round(per_minute, 2), "failed": failed}
            )
    for count in ("1", "2"):
        out[f"median_per_minute_{count}w"] = median(r["per_minute"] for r in out["runs"][count])
    out["ratio_2w_1w"] = ratio(out["median_per_minute_2w"], out["median_per_minute_1w"])
    out["seconds_per_collection_1w"] = (
        60 / out["median_per_minute_1w"] if out["median_per_minute_1w"] else None
    )
    out["failed_runs"] = sum(r["failed"] for rs in out["runs"].values() for r in rs)
    return out


def _bundle(directory: Path, pods: int) -> Path:
    objects, version = synthetic_cluster(pods, seed=7)
    write_bundle(objects, version, directory)
    packed = directory.with_suffix(".tar.gz")
    with tarfile.open(packed, "w:gz") as archive:
        for file in sorted(directory.iterdir()):
            archive.add(file, arcname=file.name)
    return packed


def _batch(clusters: list[Any]) -> tuple[float, int]:
    from django.db import transaction

    from clusters.models import CollectionRun
    from clusters.services import collection_request

    started = time.perf_counter()
    with transaction.atomic():  # every task is sent on commit, at once
        ids = [
            collection_request(cluster=c, trigger=CollectionRun.Trigger.MANUAL).pk for c in clusters
        ]
    _wait(ids, timeout=1800)
    seconds = time.perf_counter() - started
    failed = CollectionRun.objects.filter(pk__in=ids, status="failed").count()
    return seconds, failed


def _wait(ids: list[int], *, timeout: float) -> None:
    from clusters.models import CollectionRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = CollectionRun.objects.filter(pk__in=ids, status__in=FINISHED).count()
        if done == len(ids):
            return
        time.sleep(0.1)
    raise RuntimeError(f"scale-out: runs did not finish within {timeout:.0f}s")


@contextmanager
def _workers(env: BenchEnv, count: int, *, tag: str) -> Iterator[None]:
    logs = [env.data_dir / f"worker-{tag}-{i}.log" for i in range(count)]
    with ExitStack() as stack:
        processes = []
        for index, path in enumerate(logs):
            handle = stack.enter_context(path.open("wb"))
            process = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--concurrency",
                    "1",
                    "--pool",
                    "prefork",
                    "--loglevel",
                    "INFO",
                    "-Q",
                    env.queue,
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"bench-{tag}-{index}-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=child_env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            stack.callback(stop, process)
        _wait_ready(processes, logs)
        yield


def _wait_ready(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process, path in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited: {path.read_text(errors='replace')[-2000:]}")
        if all(" ready." in path.read_text(errors="replace") for path in logs):
            return
        time.sleep(0.1)
    raise RuntimeError("scale-out: the workers did not become ready within 60s")
