"""Section 1: collecting synthetic clusters over HTTP.

For each size a fake API server runs in its own process (bench.apiserver); every measurement
runs in a fresh process (bench.measure) so its peak RSS is its own. Modes are interleaved
within each repetition so drift on a shared machine hits them alike.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import orjson

from bench.proc import background, child_env, median, ratio, run_json

MODES = ("raw", "raw-all", "collect", "model")


def run(
    sizes: list[int],
    *,
    repeats: int,
    page_size: int = 500,
    model_max_pods: int = 10_000,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    out: dict[str, Any] = {"page_size": page_size, "repeats": repeats, "sizes": []}
    for pods in sizes:
        out["sizes"].append(_one_size(pods, repeats, page_size, model_max_pods, log))
    return out


def _one_size(
    pods: int, repeats: int, page_size: int, model_max_pods: int, log: Callable[[str], None]
) -> dict[str, Any]:
    modes = [m for m in MODES if m != "model" or pods <= model_max_pods]
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    log(f"collection: serving {pods:,} pods")
    with background(
        ["bench.apiserver", str(pods)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
    ) as server:
        assert server.stdout is not None
        ready = orjson.loads(server.stdout.readline() or b"null")
        if not ready:
            raise RuntimeError("the fake API server did not start")
        for rep in range(repeats):
            for mode in modes:
                log(f"collection: {pods:,} pods, {mode}, repetition {rep + 1}/{repeats}")
                result = run_json(
                    ["bench.measure", mode, ready["url"], ready["token"], str(page_size)]
                )
                if mode != "raw-all" and result["items"] != pods:
                    raise RuntimeError(f"{mode} saw {result['items']} pods, expected {pods}")
                runs[mode].append(result)
        assert server.stdin is not None
        server.stdin.close()
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
    """Wall time per pod at the largest size / at the middle size (1.0 = linear)."""
    if len(sizes) < 2:
        return None
    big, mid = sizes[-1], sizes[-2]
    per_big = big["median"]["collect"]["wall_s"] / big["pods"]
    per_mid = mid["median"]["collect"]["wall_s"] / mid["pods"]
    return per_big / per_mid
