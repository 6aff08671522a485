"""`make bench`: Rampart's performance benchmarks, printed as one table.

    python -m bench                 full sizes (collection 10k/50k, 1,000 clusters x 1 year, ...)
    python -m bench --smoke         tiny sizes of everything, well under a minute
    python -m bench --only collection --sizes 10000 --repeats 3 --profile
    python -m bench --only pages,storage --fleet 1000 --history-days 365

collection measures `manage.py collect NAME --sync` as a whole process (first, unchanged,
1 % changed) against the raw fetch floor, over TLS, on the configured database (PostgreSQL
with DATABASE_URL, else SQLite); bench/realpath.py. --profile adds one run per mode under
cProfile and writes the profiles to bench/results/.

reports issues compliance reports with `manage.py compliance_report` as whole processes (a
year's report of one cluster, a fleet report of 100 clusters) on a fleet of its own; it runs
last. pages and storage share one generated fleet (bench/history.py); storage runs after pages,
because it prunes that history. On PostgreSQL the pages section keeps the generated fleet in a
database of its own and copies it back on the next run while the schema and the generator are
unchanged (bench/dataset.py); BENCH_DATASET_DATABASE names it.

Results (every repetition, medians, ratios, the machine) go to bench/results/latest.json
(smoke runs: bench/results/smoke.json, so they never overwrite a full run).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import collection, env, realpath, report
from bench.shapes import SHAPES

SECTIONS = ("collection", "pages", "storage", "scaleout", "reports")
RESULTS = Path(__file__).resolve().parent / "results"


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--smoke", action="store_true", help="tiny sizes, 1 repetition: checks the bench works")
    add("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    add("--repeats", type=int, help="repetitions per measurement (default 3; smoke 1)")
    add("--sizes", help="pod counts for collection (default 10000,50000; smoke 300)")
    add("--page-size", type=int, default=500, help="list page size (limit)")
    add(
        "--shape",
        default="findings",
        choices=sorted(SHAPES),
        help="synthetic cluster (bench/shapes.py): findings (~10 open findings a pod) or default",
    )
    add(
        "--profile",
        nargs="?",
        const=",".join(realpath.COLLECT_MODES),
        default="",
        metavar="MODES",
        help="also run collect --sync under cProfile (default: every mode), into bench/results/",
    )
    add("--model-max-pods", type=int, default=10_000, help="skip the model path above this")
    add("--fleet", type=int, help="clusters in the pages/storage fleet (default 1000; smoke 5)")
    add(
        "--history-days",
        type=int,
        help="days of 6-hourly history per cluster (default 365; smoke 10)",
    )
    add("--load-seconds", type=float, help="seconds of load per page and repetition (10; smoke 2)")
    add("--scale-clusters", type=int, help="bundle clusters per scale-out batch (16; smoke 3)")
    add("--scale-pods", type=int, help="pods in the scale-out bundle (2000; smoke 100)")
    add("--report-clusters", type=int, help="clusters in the reports fleet (100; smoke 3)")
    add("--report-days", type=int, help="days of history behind the reports (365; smoke 10)")
    add("--json", type=Path, help="results file (results/latest.json; smoke: results/smoke.json)")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.repeats = args.repeats or (1 if smoke else 3)
    args.sizes = [int(s) for s in (args.sizes or ("300" if smoke else "10000,50000")).split(",")]
    args.profile = tuple(m.strip() for m in args.profile.split(",") if m.strip())
    if set(args.profile) - set(realpath.COLLECT_MODES):
        parser.error(f"--profile takes modes among {', '.join(realpath.COLLECT_MODES)}")
    args.fleet = args.fleet or (5 if smoke else 1000)
    args.history_days = args.history_days or (10 if smoke else 365)
    args.load_seconds = args.load_seconds or (2 if smoke else 10)
    args.scale_clusters = args.scale_clusters or (3 if smoke else 16)
    args.scale_pods = args.scale_pods or (100 if smoke else 2000)
    args.report_clusters = args.report_clusters or (3 if smoke else 100)
    args.report_days = args.report_days or (10 if smoke else 365)
    args.json = args.json or RESULTS / ("smoke.json" if smoke else "latest.json")
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = _args(argv)
    started = time.perf_counter()
    bench_env = env.prepare()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "database": bench_env.database,
        "broker": bench_env.broker_url.split("://", 1)[0],
    }
    try:
        if "collection" in args.only:
            results["collection"] = collection.run(
                args.sizes,
                bench_env=bench_env,
                repeats=args.repeats,
                page_size=args.page_size,
                model_max_pods=args.model_max_pods,
                shape=args.shape,
                profile_modes=args.profile,
                profile_dir=args.json.parent,
                log=_log,
            )
        if {"pages", "storage", "scaleout", "reports"} & set(args.only):
            env.setup_django(bench_env)
        if "pages" in args.only:
            from bench import pages

            results["pages"] = pages.run(
                bench_env,
                clusters=args.fleet,
                days=args.history_days,
                seconds=args.load_seconds,
                repeats=args.repeats,
                keep=not args.smoke,  # smoke sizes generate in seconds: nothing worth keeping
                log=_log,
            )
        if "storage" in args.only:
            from bench import storage

            shared = results.get("pages")
            results["storage"] = storage.run(
                bench_env,
                clusters=args.fleet,
                days=args.history_days,
                generated=shared["generated"] if shared else None,
                now=datetime.fromisoformat(shared["now"]) if shared else None,
                log=_log,
            )
        if "scaleout" in args.only:
            from bench import scaleout

            results["scaleout"] = scaleout.run(
                bench_env,
                clusters=args.scale_clusters,
                pods=args.scale_pods,
                repeats=args.repeats,
                log=_log,
            )
        if "reports" in args.only:  # last: it clears the history the others generated
            from bench import reports

            results["reports"] = reports.run(
                bench_env,
                clusters=args.report_clusters,
                days=args.report_days,
                repeats=args.repeats,
                log=_log,
            )
    finally:
        env.cleanup(bench_env)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.verdicts(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(
        f"Rampart benchmarks: medians of {args.repeats} repetition(s) on {os.cpu_count()} CPUs, "
        f"{bench_env.database}, broker {results['broker']}"
        + (" (smoke sizes: not meaningful)" if args.smoke else "")
    )
    print(report.table(results))
    print(f"({results['seconds']} s; every repetition in {args.json})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
