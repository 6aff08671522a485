"""Section 2: page latency under load, and queries per page.

A generated fleet (clusters, runs, evaluations; check results for each cluster's latest
evaluation, copied from a real evaluation of a small synthetic cluster) is written with
bulk_create. `history` evaluations per cluster, 6 hours apart, feed the fleet page's trend
column. The pages are served by gunicorn (2 workers) in a subprocess and loaded by wrk (or a
Python thread pool) with 16 connections while logged in as an auditor. Query counts come from
the test Client in-process, once at a tiny fleet and once at the full fleet, so growth with the
fleet shows.
"""

from __future__ import annotations

import random
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench import load
from bench.env import BenchEnv
from bench.proc import PYTHON, ROOT, child_env, free_port, median, stop

ENVIRONMENTS = ("production", "staging", "development")
SMALL_FLEET = 10
CHUNK = 100


def run(
    env: BenchEnv,
    *,
    clusters: int,
    history: int,
    seconds: float,
    repeats: int,
    connections: int = 16,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connections as db_connections

    call_command("collectstatic", interactive=False, verbosity=0)
    template = _template()
    log(f"pages: writing a fleet of {clusters:,} clusters x {history} evaluation(s)")
    small = min(SMALL_FLEET, clusters)
    _fleet(0, small, history, template)
    cookie, client = _login()
    paths = {"fleet": "/", "cluster": f"/clusters/{_name(small // 2)}/"}
    queries_small = {page: _queries(client, path) for page, path in paths.items()}
    started = time.perf_counter()
    _fleet(small, clusters, history, template)
    build_seconds = time.perf_counter() - started
    paths["cluster"] = f"/clusters/{_name(clusters // 2)}/"
    queries = {page: _queries(client, path) for page, path in paths.items()}
    db_connections.close_all()
    out: dict[str, Any] = {
        "clusters": clusters,
        "history_per_cluster": history,
        "check_results_per_evaluation": len(template["rows"]),
        "results_for": "latest evaluation only",
        "database": env.database,
        "build_seconds": round(build_seconds, 1),
        "load_tool": load.tool(),
        "connections": connections,
        "seconds_per_run": seconds,
        "repeats": repeats,
        "queries_small_fleet": queries_small,
        "small_fleet": small,
        "queries": queries,
        "runs": {page: [] for page in paths},
    }
    port = free_port()
    log_path = env.data_dir / "gunicorn.log"
    with log_path.open("wb") as handle:
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--workers",
                "2",
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
        page: {key: median(r[key] for r in runs) for key in ("p50_ms", "p95_ms", "rps")}
        | {"failures": sum(r["failures"] for r in runs)}
        for page, runs in out["runs"].items()
    }
    return out


def _name(index: int) -> str:
    return f"fleet-{index:05d}"


def _template() -> dict[str, Any]:
    """Check results of a real evaluation of a 300-pod synthetic cluster."""
    from bench.synth import synthetic_cluster
    from clusters.inventory import Inventory, trim
    from posture.checks.base import run_all
    from posture.scoring import score
    from posture.services import check_context, scored

    objects, version = synthetic_cluster(300, seed=3)
    inventory = Inventory(version=version, anonymous_probe={"/version": 200, "/api": 403})
    for key, items in objects.items():
        inventory.set_objects(key, [trim(key, item) for item in items])
    results = run_all(inventory, check_context())
    report = score(scored(r) for r in results)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    rows = [
        {
            "check_id": r.check.id,
            "status": r.status.value,
            "summary": r.outcome.summary,
            "affected": [a.as_dict() for a in r.outcome.affected],
        }
        for r in results
    ]
    return {
        "rows": rows,
        "score": report.score or 50.0,
        "coverage": report.coverage,
        "area_scores": report.area_dict(),
        "counts": counts,
        "object_counts": inventory.counts(),
        "kind_status": {k: str(v) for k, v in inventory.kind_status.items()},
    }


def _fleet(start: int, stop_: int, history: int, template: dict[str, Any]) -> None:
    for chunk in range(start, stop_, CHUNK):
        _chunk(range(chunk, min(chunk + CHUNK, stop_)), history, template)


def _chunk(indexes: range, history: int, template: dict[str, Any]) -> None:
    from django.db import transaction
    from django.utils import timezone

    from clusters.models import Cluster, CollectionRun
    from posture.models import Evaluation
    from posture.results import Verdict, result_set_store

    now = timezone.now()
    rng = random.Random(indexes.start)
    with transaction.atomic():
        clusters = Cluster.objects.bulk_create(
            Cluster(
                name=_name(i),
                environment=ENVIRONMENTS[i % len(ENVIRONMENTS)],
                source_kind=Cluster.SourceKind.KUBECONFIG,
                api_server=f"https://{_name(i)}.example.com:6443",
                schedule_enabled=False,
            )
            for i in indexes
        )
        runs, evaluations = [], []
        verdicts = [
            Verdict(row["check_id"], row["status"], row["summary"], row["affected"])
            for row in template["rows"]
        ]
        for cluster in clusters:
            result_set = result_set_store(cluster_id=cluster.pk, verdicts=verdicts)
            for age in range(history):  # age 0 is the latest
                at = now - timedelta(hours=6 * age, minutes=rng.randrange(30))
                run = CollectionRun(
                    cluster=cluster,
                    status=CollectionRun.Status.SUCCEEDED,
                    trigger=CollectionRun.Trigger.SCHEDULE,
                    created_at=at,
                    started_at=at + timedelta(seconds=1),
                    finished_at=at + timedelta(seconds=9),
                    fetch_seconds=6.5,
                    evaluate_seconds=1.2,
                    kubernetes_version="v1.35.8",
                    object_counts=template["object_counts"],
                    kind_status=template["kind_status"],
                )
                runs.append(run)
                evaluations.append(
                    Evaluation(
                        run=run,
                        cluster=cluster,
                        result_set=result_set,
                        created_at=at,
                        score=max(0.0, min(100.0, template["score"] + rng.uniform(-20, 20))),
                        coverage=template["coverage"],
                        area_scores=template["area_scores"],
                        status_counts=template["counts"],
                    )
                )
        CollectionRun.objects.bulk_create(runs, batch_size=2000)
        Evaluation.objects.bulk_create(evaluations, batch_size=2000)
        latest = evaluations[::history]
        for cluster, evaluation in zip(clusters, latest, strict=True):
            cluster.latest_run = evaluation.run
            cluster.latest_evaluation = evaluation
        Cluster.objects.bulk_update(clusters, ["latest_run", "latest_evaluation"], batch_size=500)


def _login() -> tuple[str, Any]:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from accounts.roles import AUDITOR, roles_sync

    roles_sync()
    user = User.objects.create_user("bench-auditor", password=None)
    user.groups.add(Group.objects.get(name=AUDITOR))
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session}", client


def _queries(client: Any, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return len(captured.captured_queries)


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
