"""Section `reports`: compliance reports issued by the real command, as whole processes.

A fleet of `clusters` (default 100) with `days` (default 365) of 6-hourly history is written
by bench.history (the product's own rows: results, verdict sets with checklist items, findings,
daily rollups), then measured with GNU time:

    cluster  manage.py compliance_report NAME --guide G --from (a year ago) --to (today)
             --output x.pdf                                    target <= 5 s, <= 400 MB
    fleet    manage.py compliance_report --fleet --guide G ... --output x.pdf    <= 60 s

Also a cluster's CSV and JSON. Each issued PDF is checked with `--verify`. The floor,
measured in the same run, is bench.report_floor: Django set up, WeasyPrint imported, a one-line
PDF written; a case's `over_floor` is its median wall time less the floor's. The section clears
the history others generated before writing its own fleet, so it runs last.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.env import BenchEnv
from bench.proc import PYTHON, child_env, median, run_measured

GUIDE = "cis-kubernetes"
TARGETS = {"cluster-pdf": (5.0, 400.0), "fleet-pdf": (60.0, None)}
_PAGES = re.compile(r"(\d+) pages")


def _command(*args: str) -> list[str]:
    return [PYTHON, "manage.py", "compliance_report", *args]


def run(
    env: BenchEnv,
    *,
    clusters: int,
    days: int,
    repeats: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from django.db import connections
    from django.utils import timezone

    from bench import history
    from posture.models import CheckResult

    history.history_clear()
    now = timezone.now()
    log(f"reports: generating {clusters:,} clusters x {days} days")
    generated = history.history_generate(
        start=0, stop=clusters, days=days, now=now, base=history.template(), log=log
    )
    history.fleet_days_write(days=days, now=now)
    connections.close_all()
    today = timezone.localdate(now)
    period = ["--from", str(today - timedelta(days=days)), "--to", str(today)]
    name = history.cluster_name(clusters // 2)
    checks = CheckResult.objects.values("check_id").distinct().count()
    out_dir = Path(tempfile.mkdtemp(prefix="rampart-bench-reports-", dir=env.data_dir))
    cases = {
        "cluster-pdf": _command(name, "--guide", GUIDE, *period, "--output", "{out}/c.pdf"),
        "cluster-csv": _command(name, "--guide", GUIDE, *period, "--output", "{out}/c.csv"),
        "cluster-json": _command(name, "--guide", GUIDE, *period, "--output", "{out}/c.json"),
        "fleet-pdf": _command("--fleet", "--guide", GUIDE, *period, "--output", "{out}/f.pdf"),
    }
    results: dict[str, Any] = {
        "clusters": clusters,
        "days": days,
        "checks": checks,
        "guide": GUIDE,
        "generated_seconds": round(generated.seconds, 1),
        "cases": {},
    }
    floor = [
        run_measured([PYTHON, "-m", "bench.report_floor"], env=child_env()) for _ in range(repeats)
    ]
    if any(measured.returncode for measured in floor):
        raise RuntimeError(f"reports floor failed: {floor[0].stderr.strip()[-500:]}")
    results["floor"] = {
        "runs": [measured.figures() for measured in floor],
        "median": {
            key: median(float(getattr(measured, key)) for measured in floor)
            for key in ("wall_s", "cpu_s", "peak_rss_mb")
        },
    }
    log(f"reports: floor {results['floor']['median']['wall_s']} s")
    for case, argv in cases.items():
        runs: list[dict[str, Any]] = []
        for repeat in range(repeats):
            target = out_dir / f"{case}-{repeat}"
            target.mkdir()
            measured = run_measured(
                [arg.replace("{out}", str(target)) for arg in argv], env=child_env()
            )
            if measured.returncode != 0:
                raise RuntimeError(f"reports {case} failed: {measured.stderr.strip()[-500:]}")
            pages = _PAGES.search(measured.stdout)
            issued = next(target.iterdir())
            verified = run_measured(_command("--verify", str(issued)), env=child_env())
            runs.append(
                {
                    **measured.figures(),
                    "pages": int(pages.group(1)) if pages else None,
                    "bytes": issued.stat().st_size,
                    "verified": verified.returncode == 0,
                }
            )
            log(f"reports: {case} {measured.wall_s} s, {measured.peak_rss_mb} MB")
        results["cases"][case] = {
            "runs": runs,
            "median": {
                key: median(float(run[key]) for run in runs)
                for key in ("wall_s", "cpu_s", "peak_rss_mb")
            },
            "pages": runs[0]["pages"],
            "bytes": runs[0]["bytes"],
            "verified": all(run["verified"] for run in runs),
            "load_average": os.getloadavg(),
        }
    started = time.perf_counter()
    history.history_clear()
    results["cleared_seconds"] = round(time.perf_counter() - started, 1)
    return results
