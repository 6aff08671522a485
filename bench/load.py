"""Load generators: wrk (Debian package) when present, else a Python thread pool."""

from __future__ import annotations

import http.client
import re
import shutil
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

_WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH p50=%d p95=%d p99=%d requests=%d non2xx=%d errors=%d\\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python-threads"


def load(
    url: str, *, cookie: str, connections: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    """p50/p95 in ms, requests per second and failures of `connections` concurrent clients."""
    if shutil.which("wrk"):
        return _wrk(url, cookie, connections, seconds, workdir)
    return _threads(url, cookie, connections, seconds)


def _wrk(url: str, cookie: str, connections: int, seconds: float, workdir: Path) -> dict[str, Any]:
    script = workdir / "report.lua"
    script.write_text(_WRK_REPORT)
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "--latency",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    match = re.search(
        r"BENCH p50=(\d+) p95=(\d+) p99=(\d+) requests=(\d+) non2xx=(\d+) "
        r"errors=(\d+)",
        done.stdout,
    )
    if not match:
        raise RuntimeError(f"unexpected wrk output: {done.stdout}\n{done.stderr}")
    p50, p95, p99, requests, non2xx, errors = (int(g) for g in match.groups())
    return {
        "p50_ms": p50 / 1000,
        "p95_ms": p95 / 1000,
        "p99_ms": p99 / 1000,
        "rps": requests / seconds,
        "requests": requests,
        "failures": non2xx + errors,
    }


def _threads(url: str, cookie: str, connections: int, seconds: float) -> dict[str, Any]:
    match = re.match(r"http://([^/:]+):(\d+)(/.*)", url)
    if not match:
        raise ValueError(url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                failures[0] += 0 if ok else 1
        conn.close()

    with ThreadPoolExecutor(connections) as pool:
        for _ in range(connections):
            pool.submit(client)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "p50_ms": cuts[49] * 1000,
        "p95_ms": cuts[94] * 1000,
        "p99_ms": cuts[98] * 1000,
        "rps": len(latencies) / seconds,
        "requests": len(latencies),
        "failures": failures[0],
    }
