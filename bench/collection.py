"""Section 1: collecting a synthetic cluster, served over TLS by a fake API server.

For each size a fake API server runs in its own process (bench.apiserver). The headline is the
real path (bench/realpath.py): `manage.py collect NAME --sync` as a whole process on the
configured database, first / unchanged / 1 % changed, beside the raw fetch floor. The breakdown
follows on the same server: fresh processes (bench.measure) measuring the in-memory parts,
collect + evaluate without storing anything, the raw fetch of pods and of every kind, and the
`kubernetes` client's models. Modes are interleaved within each repetition so drift on a
shared machine hits them alike.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from bench import realpath
from bench.env import BenchEnv
from bench.proc import (
    PYTHON,
    background,
    child_env,
    median,
    ratio,
    run_measured,
    warm_bytecode,
)
from bench.scratchdb import ScratchDatabases

BREAKDOWN_MODES = ("raw", "raw-all", "collect", "model")


def run(
    sizes: list[int],
    *,
    bench_env: BenchEnv,
    repeats: int,
    page_size: int = 500,
    model_max_pods: int = 10_000,
    shape: str = "findings",
    profile_modes: tuple[str, ...] = (),
    profile_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    real: list[dict[str, Any]] = []
    breakdown: list[dict[str, Any]] = []
    dbs = ScratchDatabases(bench_env)
    warm_bytecode()
    log(f"collection: migrating the bench database ({bench_env.database}), each run's template")
    dbs.prepare()
    try:
        for pods in sizes:
            log(f"collection: serving {pods:,} pods ({shape} shape) over TLS")
            with serve(pods, shape=shape, directory=bench_env.data_dir) as served:
                real.append(
                    realpath.measure_size(
                        served,
                        dbs=dbs,
                        repeats=repeats,
                        page_size=page_size,
                        directory=bench_env.data_dir,
                        profile_modes=profile_modes,
                        profile_dir=profile_dir,
                        log=log,
                    )
                )
                served.restore()
                breakdown.append(_breakdown(served, repeats, page_size, model_max_pods, log))
    finally:
        dbs.cleanup()
    return {
        "page_size": page_size,
        "repeats": repeats,
        "shape": shape,
        "database": bench_env.database,
        "real_path": {"sizes": real, "linearity": realpath.linearity(real)},
        "breakdown": {"sizes": breakdown, "linearity": linearity(breakdown)},
    }


@contextmanager
def serve(pods: int, *, shape: str, directory: Path) -> Iterator[realpath.Served]:
    """bench.apiserver in its own process, over TLS, with its control channel on stdin."""
    with background(
        ["bench.apiserver", str(pods), "--shape", shape, "--tls"],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        stdin, stdout = server.stdin, server.stdout
        ready = orjson.loads(stdout.readline() or b"null")
        if not ready:
            raise RuntimeError("the fake API server did not start")
        ca_file = directory / f"ca-{pods}.pem"
        ca_file.write_bytes(base64.b64decode(ready["ca_data"]))

        def send(command: dict[str, Any]) -> dict[str, Any]:
            stdin.write(orjson.dumps(command) + b"\n")
            stdin.flush()
            return dict(orjson.loads(stdout.readline() or b"{}"))

        yield realpath.Served(
            url=ready["url"],
            token=ready["token"],
            ca_file=ca_file,
            ca_data=ready["ca_data"],
            pods=pods,
            shape=ready["shape"],
            changes=ready["changes"],
            send=send,
        )
        stdin.close()


def _breakdown(
    served: realpath.Served,
    repeats: int,
    page_size: int,
    model_max_pods: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    pods = served.pods
    modes = [m for m in BREAKDOWN_MODES if m != "model" or pods <= model_max_pods]
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for rep in range(repeats):
        for mode in modes:
            log(f"collection breakdown: {pods:,} pods, {mode}, repetition {rep + 1}/{repeats}")
            # Through GNU time, so the child's own ru_maxrss starts from GNU time's few MB, not
            # from this process's (Linux carries the peak RSS over fork and exec).
            measured = run_measured(
                [
                    PYTHON,
                    "-m",
                    "bench.measure",
                    mode,
                    served.url,
                    served.token,
                    str(page_size),
                    str(served.ca_file),
                ],
                env=child_env(),
            )
            if measured.returncode:
                raise RuntimeError(f"bench.measure {mode} failed: {measured.stderr[-2000:]}")
            result = dict(orjson.loads(measured.stdout.strip().splitlines()[-1]))
            if mode != "raw-all" and result["items"] != pods:
                raise RuntimeError(f"{mode} saw {result['items']} pods, expected {pods}")
            runs[mode].append(result)
    summary: dict[str, Any] = {"pods": pods, "runs": runs, "median": {}}
    for mode, results in runs.items():
        summary["median"][mode] = {
            key: median(r[key] for r in results)
            for key in ("wall_s", "cpu_s", "peak_rss_mb", "rss_before_mb")
        } | (
            {
                "collect_s": median(r["collect_s"] for r in results),
                "evaluate_s": median(r["evaluate_s"] for r in results),
            }
            if mode == "collect"
            else {}
        )
    med = summary["median"]
    collect_wall = med["collect"]["wall_s"]
    summary["ratios"] = {
        "collect_vs_raw": ratio(collect_wall, med["raw"]["wall_s"]),
        "collect_vs_raw_cpu": ratio(med["collect"]["cpu_s"], med["raw"]["cpu_s"]),
        "collect_vs_raw_all": ratio(collect_wall, med["raw-all"]["wall_s"]),
        "model_vs_collect": ratio(med["model"]["wall_s"], collect_wall) if "model" in med else None,
    }
    if "model" not in med:
        summary["model_skipped"] = f"model path skipped above {model_max_pods:,} pods (slow)"
    return summary


def linearity(sizes: list[dict[str, Any]]) -> float | None:
    """In-memory collect + evaluate: wall time per pod at the largest size / at the next one."""
    if len(sizes) < 2:
        return None
    big, mid = sizes[-1], sizes[-2]
    per_big = big["median"]["collect"]["wall_s"] / big["pods"]
    per_mid = mid["median"]["collect"]["wall_s"] / mid["pods"]
    return float(per_big / per_mid)
