"""The path users run: `manage.py collect NAME --sync` as a whole process, beside the floor.

For one served cluster (bench.collection starts it), each repetition takes a fresh, empty,
migrated database (bench/scratchdb.py), registers the cluster with `manage.py register_cluster`
from a kubeconfig carrying `certificate-authority-data` and a token, and measures, interleaved:

    floor        python -m bench.floor: the pods' paged fetch + orjson over the same TLS
    start-up     manage.py collect --help: Django and the command loaded, no work (a diagnostic:
                 the fixed cost any `collect --sync` pays before its first request)
    first        collect --sync right after registering
    unchanged    collect --sync again, nothing changed on the server
    changed-1%   collect --sync after the server changed ~1 % of the pods (its control channel)

Each is a fresh process, timed and measured from outside (bench.proc.run_measured). Only the
CLI is relied on, never Rampart's internals: the implementation behind it may change freely.
After each collect the open findings are counted with one query, outside the timed process.
"""

from __future__ import annotations

import io
import os
import pstats
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.proc import PYTHON, ROOT, Measured, child_env, median, ratio, run_measured
from bench.scratchdb import ScratchDatabases

COLLECT_MODES = ("first", "unchanged", "changed-1%")
MODES = ("floor", "start-up", *COLLECT_MODES)
Log = Callable[[str], None]


@dataclass
class Served:
    """The running fake API server (bench.apiserver) and how to reach and change it."""

    url: str
    token: str
    ca_file: Path
    ca_data: str
    pods: int
    shape: str
    changes: dict[str, int]
    send: Callable[[dict[str, Any]], dict[str, Any]]
    generation: int = 0

    def change(self) -> dict[str, Any]:
        answer = self.send({"op": "change"})
        if "generation" not in answer:
            raise RuntimeError(f"the fake API server refused the change: {answer}")
        self.generation = int(answer["generation"])
        return answer

    def restore(self) -> None:
        """Serve the original content again (under new resourceVersions) if it is changed."""
        if self.generation % 2:
            self.change()

    def kubeconfig(self, context: str) -> str:
        return (
            "apiVersion: v1\nkind: Config\n"
            f"current-context: {context}\n"
            f"clusters:\n- name: {context}\n  cluster:\n    server: {self.url}\n"
            f"    certificate-authority-data: {self.ca_data}\n"
            f"users:\n- name: {context}\n  user:\n    token: {self.token}\n"
            f"contexts:\n- name: {context}\n  context:\n    cluster: {context}\n"
            f"    user: {context}\n"
        )


@dataclass
class _Size:
    served: Served
    dbs: ScratchDatabases
    page_size: int
    kubeconfig: Path
    log: Log
    name: str = ""
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    output: dict[str, str] = field(default_factory=dict)  # the last repetition's, per mode

    def collect(self, url: str, mode: str, profile: Path | None = None) -> dict[str, Any]:
        argv = [PYTHON]
        if profile is not None:
            argv += ["-m", "cProfile", "-o", str(profile)]
        argv += ["manage.py", "collect", self.name, "--sync"]
        measured = run_measured(argv, env=self.env(url))
        _check(measured, f"collect {self.name} --sync ({mode})")
        self.output[mode] = measured.stdout
        lines = measured.stdout.strip().splitlines()
        found = self.dbs.open_findings(url)
        return measured.figures() | {
            "open_findings": found.get(self.name, 0),
            "open_findings_by_cluster": found,
            "summary": lines[-1].strip() if lines else "",
        }

    def floor(self) -> dict[str, Any]:
        served = self.served
        measured = run_measured(
            [
                PYTHON,
                "-m",
                "bench.floor",
                served.url,
                served.token,
                str(served.ca_file),
                str(self.page_size),
            ],
            env=child_env(),
        )
        _check(measured, "bench.floor")
        self.output["floor"] = measured.stdout
        items = int(_last_json(measured.stdout)["items"])
        if items != served.pods:
            raise RuntimeError(f"the floor fetched {items} pods, expected {served.pods}")
        return measured.figures() | {"items": items}

    def startup(self, url: str) -> dict[str, Any]:
        measured = run_measured([PYTHON, "manage.py", "collect", "--help"], env=self.env(url))
        _check(measured, "collect --help")
        return measured.figures()

    def register(self, url: str) -> None:
        done = run_measured(
            [
                PYTHON,
                "manage.py",
                "register_cluster",
                self.name,
                "--kubeconfig",
                str(self.kubeconfig),
                "--no-collect",
            ],
            env=self.env(url),
        )
        _check(done, f"register_cluster {self.name}")

    def env(self, url: str) -> dict[str, str]:
        return child_env(DATABASE_URL=url, RAMPART_KUBE_PAGE_SIZE=str(self.page_size))

    def record(self, mode: str, rep: int, repeats: int, result: dict[str, Any]) -> None:
        # The machine is shared: the load when the run ended says how far to trust it.
        result["load_1m"] = round(os.getloadavg()[0], 2)
        self.runs.setdefault(mode, []).append(result)
        found = result.get("open_findings_by_cluster")
        counts = (
            ", ".join(f"{name} {count:,}" for name, count in found.items()) if found else "none"
        )
        self.log(
            f"real path: {self.served.pods:,} pods, {mode}, repetition {rep}/{repeats}: "
            f"{result['wall_s']:.2f} s, {result['peak_rss_mb']:,.0f} MB"
            + ("" if mode in ("floor", "start-up") else f"; open findings per cluster: {counts}")
        )


def measure_size(
    served: Served,
    *,
    dbs: ScratchDatabases,
    repeats: int,
    page_size: int,
    directory: Path,
    profile_modes: tuple[str, ...] = (),
    profile_dir: Path | None = None,
    log: Log = print,
) -> dict[str, Any]:
    kubeconfig = directory / f"bench-{served.pods}.kubeconfig"
    kubeconfig.write_text(served.kubeconfig(f"bench-{served.pods}"))
    kubeconfig.chmod(0o600)
    size = _Size(served, dbs, page_size, kubeconfig, log, name=f"bench-{served.pods}")
    for rep in range(1, repeats + 1):
        url = dbs.fresh()
        try:
            size.register(url)
            served.restore()
            size.record("floor", rep, repeats, size.floor())
            size.record("start-up", rep, repeats, size.startup(url))
            size.record("first", rep, repeats, size.collect(url, "first"))
            size.record("unchanged", rep, repeats, size.collect(url, "unchanged"))
            served.change()
            size.record("changed-1%", rep, repeats, size.collect(url, "changed-1%"))
        finally:
            dbs.drop(url)
    summary = _summary(served, size.runs)
    for mode in COLLECT_MODES:
        _echo(f"{served.pods:,} pods, {mode}: `collect --sync` output", size.output.get(mode, ""))
    if profile_modes:
        summary["profiles"] = _profiles(size, profile_modes, profile_dir or directory)
    return summary


def _summary(served: Served, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    med = {
        mode: {key: median(r[key] for r in results) for key in ("wall_s", "cpu_s", "peak_rss_mb")}
        | ({"open_findings": results[-1]["open_findings"]} if mode in COLLECT_MODES else {})
        for mode, results in runs.items()
    }
    floors = [r["wall_s"] for r in runs["floor"]]
    return {
        "pods": served.pods,
        "shape": served.shape,
        "changed": served.changes,
        "runs": runs,
        "median": med,
        # Median of each mode over the median floor of the same run (same machine, same minutes).
        "ratio_to_floor": {
            mode: ratio(med[mode]["wall_s"], med["floor"]["wall_s"])
            for mode in ("start-up", *COLLECT_MODES)
        },
        "ratio_to_floor_each": {
            mode: [ratio(r["wall_s"], f) for r, f in zip(runs[mode], floors, strict=True)]
            for mode in COLLECT_MODES
        },
    }


def _profiles(size: _Size, modes: tuple[str, ...], directory: Path) -> dict[str, Any]:
    """One more repetition, with the chosen modes under cProfile: where the time goes."""
    directory.mkdir(parents=True, exist_ok=True)
    pods = size.served.pods
    out: dict[str, Any] = {}
    url = size.dbs.fresh()
    try:
        size.register(url)
        size.served.restore()
        for mode in COLLECT_MODES:
            if mode == "changed-1%":
                size.served.change()
            path = directory / f"profile-{pods}-{mode}.prof" if mode in modes else None
            size.log(f"real path: {pods:,} pods, {mode}" + (" under cProfile" if path else ""))
            result = size.collect(url, mode, profile=path)
            if path is None:
                continue
            text = profile_text(path)
            text_path = path.with_suffix(".txt")
            text_path.write_text(text)
            out[mode] = {
                "profile": str(path),
                "text": str(text_path),
                "wall_s": result["wall_s"],
                "peak_rss_mb": result["peak_rss_mb"],
                "open_findings": result["open_findings"],
            }
            size.log(f"real path: profile of {mode} in {path} (readable: {text_path})")
    finally:
        size.dbs.drop(url)
    return out


def profile_text(path: Path, lines: int = 40) -> str:
    """The profile's top functions by cumulative and by own time, as pstats prints them, with
    paths shortened (pstats' strip_dirs would make every `__init__.py` look alike)."""
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    for key in ("cumulative", "tottime"):
        stream.write(f"\n==== sorted by {key} ====\n")
        stats.sort_stats(key).print_stats(lines)
    text = stream.getvalue()
    paths = sysconfig.get_paths()
    for prefix, short in (
        (paths["purelib"], "site-packages"),
        (paths["platlib"], "site-packages"),
        (paths["stdlib"], "stdlib"),
    ):
        text = text.replace(prefix + "/", short + "/")
    return text.replace(str(ROOT) + "/", "")


def _echo(title: str, text: str) -> None:
    print(f"---- {title} ----", file=sys.stderr)
    print(text.rstrip(), file=sys.stderr, flush=True)


def _check(measured: Measured, what: str) -> None:
    if measured.returncode != 0:
        raise RuntimeError(
            f"{what} exited {measured.returncode}: {(measured.stderr or measured.stdout)[-3000:]}"
        )


def _last_json(stdout: str) -> dict[str, Any]:
    import orjson

    return dict(orjson.loads(stdout.strip().splitlines()[-1]))


def linearity(sizes: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per collect mode: wall time per pod at the largest size / at the next one (1.0 = linear)."""
    if len(sizes) < 2:
        return {}
    big, mid = sizes[-1], sizes[-2]
    out: dict[str, float | None] = {}
    for mode in COLLECT_MODES:
        per_big = ratio(big["median"][mode]["wall_s"], big["pods"])
        per_mid = ratio(mid["median"][mode]["wall_s"], mid["pods"])
        out[mode] = ratio(per_big, per_mid)
    return out
