"""Section 2: page latency under load, and queries per page.

The fleet is bench.history's: `days` of 6-hourly collections per cluster (runs, evaluations,
content-addressed verdicts, findings, daily rollups, fleet days), in the rows the real write
path leaves. The pages (fleet, cluster, both trend pages over a year, a hardening-guide
checklist) are served by gunicorn (3 sync workers, or BENCH_GUNICORN_ARGS) in a subprocess
and loaded by wrk (or a Python thread pool) with 16 connections while logged in as a security
engineer. Query counts come from the test Client in-process, once at a small fleet and once at
the full fleet, so growth with the fleet shows. A page that does not answer 200 is reported
as missing, not loaded.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from bench import dataset, history, load
from bench.env import BenchEnv
from bench.proc import PYTHON, ROOT, child_env, free_port, median, stop

SMALL_FLEET = 10
CHECKLIST_GUIDE = "gke-hardening"
BENCH_USER = "bench-engineer"
FLOOR = "floor: login page"


def page_paths(cluster: str) -> dict[str, str]:
    return {
        FLOOR: "/login/",  # session, CSRF, a template, the same middleware: no posture data
        "fleet": "/",
        "cluster": f"/clusters/{cluster}/",
        "cluster trends 1y": f"/clusters/{cluster}/trends/?range=1y",
        "fleet trends 1y": "/trends/?range=1y",
        "checklist": f"/clusters/{cluster}/guides/{CHECKLIST_GUIDE}/",
    }


def run(
    env: BenchEnv,
    *,
    clusters: int,
    days: int,
    seconds: float,
    repeats: int,
    connections: int = 16,
    keep: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`keep`: reuse (or keep for the next run) the generated fleet, bench.dataset."""
    from django.core.management import call_command
    from django.db import connections as db_connections
    from django.utils import timezone

    call_command("collectstatic", interactive=False, verbosity=0)
    small = max(1, min(SMALL_FLEET, clusters // 2))
    small_label, full_label = f"{small}x{days}", f"{clusters}x{days}"
    small_key = dataset.dataset_key(clusters=small, days=days)
    full_key = dataset.dataset_key(clusters=clusters, days=days)
    base = None
    small_kept = keep and dataset.kept(env, label=small_label, key=small_key)
    if small_kept:
        log(f"pages: the small fleet ({small_label}) is kept from an earlier run; copying it")
        dataset.restore(env, label=small_label)
        now = small_kept.now
        generated = history.Generated.from_dict(small_kept.meta["generated"])
    else:
        base = history.template()
        now = timezone.now()
        log(f"pages: generating {small} clusters x {days} days, for the small fleet's queries")
        generated = history.history_generate(start=0, stop=small, days=days, now=now, base=base)
        history.fleet_days_write(days=days, now=now)
        _analyze(env)
        if keep:
            meta = {"generated": generated.as_dict()}
            dataset.keep(env, label=small_label, key=small_key, now=now, meta=meta)
    cookie, client = _login()
    queries_small = {
        page: _queries(client, path)
        for page, path in page_paths(history.cluster_name(small // 2)).items()
    }
    full_kept = keep and dataset.kept(env, label=full_label, key=full_key)
    if full_kept:
        log(
            f"pages: the fleet ({full_label}) is kept from an earlier run (key {full_key}); copying"
        )
        started = time.perf_counter()
        dataset.restore(env, label=full_label)
        now = full_kept.now
        built = full_kept.meta["generated"]
        built["fleet_days"] = full_kept.meta["fleet_days"]
        log(f"pages: copied in {time.perf_counter() - started:.0f} s; history ends {now:%F %T}")
    else:
        _logout()  # the kept dataset holds what was generated, nothing else
        log(f"pages: generating clusters {small:,} to {clusters:,} x {days} days")
        generated.add(
            history.history_generate(
                start=small,
                stop=clusters,
                days=days,
                now=now,
                base=base or history.template(),
                log=log,
            )
        )
        built = generated.as_dict()
        fleet_days = history.fleet_days_write(days=days, now=now)
        for index in sorted({0, clusters // 2, clusters - 1}):
            history.write_path_check(name=history.cluster_name(index))
        _analyze(env)
        log(f"pages: {built['rows']} in {built['seconds']} s; the real write path agrees")
        if keep:
            meta = {"generated": built, "fleet_days": fleet_days}
            dataset.keep(env, label=full_label, key=full_key, now=now, meta=meta)
        built["fleet_days"] = fleet_days
    built["kept"] = bool(full_kept)
    from django.core.cache import cache

    cache.clear()  # a shared cache may hold pages of another copy of these cluster ids
    built["database_size"] = dataset.size(env)
    cookie, client = _login()
    paths = page_paths(history.cluster_name(clusters // 2))
    queries = {page: _queries(client, path) for page, path in paths.items()}
    cached = _hit_and_miss(client, paths, name=history.cluster_name(clusters // 2))
    db_connections.close_all()
    out: dict[str, Any] = {
        "clusters": clusters,
        "days": days,
        "collections_per_cluster": days * history.COLLECTIONS_PER_DAY,
        "now": now.isoformat(),
        "database": env.database,
        "generated": built,
        "load_tool": load.tool(),
        "connections": connections,
        "seconds_per_run": seconds,
        "repeats": repeats,
        "paths": paths,
        "queries_small_fleet": queries_small,
        "small_fleet": small,
        "queries": queries,
        "runs": {page: [] for page in paths},
        "cache": cached,
    }
    # As the image runs it (Dockerfile, docker-compose.yml): on 2 cores a third sync worker
    # serves while the others wait on PostgreSQL and Redis (measured against 2 workers and
    # 2 gthread workers x 2 threads). BENCH_GUNICORN_ARGS compares others.
    gunicorn_args = shlex.split(os.environ.get("BENCH_GUNICORN_ARGS") or "--workers 3")
    out["gunicorn"] = " ".join(gunicorn_args)
    port = free_port()
    log_path = env.data_dir / "gunicorn.log"
    with log_path.open("wb") as handle:
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                *gunicorn_args,
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_http(f"http://127.0.0.1:{port}/login/", server, log_path)
            for rep in range(repeats):
                for page, path in paths.items():
                    if queries[page]["status"] != 200:
                        continue
                    log(f"pages: {page} page, repetition {rep + 1}/{repeats}")
                    out["runs"][page].append(
                        load.load(
                            f"http://127.0.0.1:{port}{path}",
                            cookie=cookie,
                            connections=connections,
                            seconds=seconds,
                            workdir=env.data_dir,
                        )
                    )
        finally:
            stop(server)
    out["median"] = {
        page: {key: median(r[key] for r in runs) for key in ("p50_ms", "p95_ms", "p99_ms", "rps")}
        | {"failures": sum(r["failures"] for r in runs)}
        for page, runs in out["runs"].items()
        if runs
    }
    return out


def _analyze(env: BenchEnv) -> None:
    """Planner statistics and visibility maps, as autovacuum keeps them on a live database:
    right after a bulk load the planner guesses 85 rows where there are 67,000."""
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit: VACUUM refuses to run in a transaction
        cursor.execute("VACUUM ANALYZE" if env.database == "postgresql" else "ANALYZE")


def _login() -> tuple[str, Any]:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from accounts.roles import SECURITY_ENGINEER, roles_sync

    roles_sync()
    user = User.objects.create_user(BENCH_USER, password=None)
    user.groups.add(Group.objects.get(name=SECURITY_ENGINEER))
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}", client


def _logout() -> None:
    from django.contrib.auth.models import User
    from django.contrib.sessions.models import Session

    User.objects.filter(username=BENCH_USER).delete()
    Session.objects.all().delete()


def _queries(client: Any, path: str) -> dict[str, Any]:
    """Status, query count and where one request's time goes (its SQL, its slowest query).

    A page that is not there yet (404, or a view that crashes) is reported, not fatal.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm: templates compiled, caches filled, as in a running server
    started = time.perf_counter()
    try:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
    except Exception as exc:  # a view crashing (500) must not end the whole bench
        return {"status": 500, "queries": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
    total_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        return {"status": response.status_code, "queries": None}
    timed = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    slowest = max(timed, default=(0.0, ""))
    return {
        "status": 200,
        "queries": len(timed),
        "request_ms": round(total_ms, 1),
        "sql_ms": round(sum(ms for ms, _ in timed), 1),
        "slowest_query_ms": round(slowest[0], 1),
        "slowest_query": slowest[1][:500],
        "bytes": len(response.content),
    }


CACHED_PAGES = ("fleet", "cluster", "checklist")


def _hit_and_miss(client: Any, paths: dict[str, str], *, name: str) -> dict[str, Any]:
    """One request's time in this process on a cache miss (the first read after a write to the
    cluster: its page-data version bumped) and on a hit, medians of 5, for the cached pages."""
    from clusters.models import Cluster
    from clusters.page_cache import page_data_changed

    cluster_id = Cluster.objects.get(name=name).pk
    out: dict[str, Any] = {}
    for page in CACHED_PAGES:
        path = paths[page]
        miss, hit = [], []
        for _ in range(5):
            page_data_changed(cluster_id=cluster_id)
            started = time.perf_counter()
            client.get(path)
            miss.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            client.get(path)
            hit.append((time.perf_counter() - started) * 1000)
        out[page] = {
            "miss_ms": round(statistics.median(miss), 1),
            "hit_ms": round(statistics.median(hit), 1),
        }
    return out


def _wait_http(url: str, server: subprocess.Popen[bytes], log_path: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60s")
