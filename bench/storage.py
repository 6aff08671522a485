"""Section 3: bytes in the database per cluster-year of history (issue 4's 2 GB per 1,000).

The fleet is the pages section's when it ran (bench.history: 6-hourly collections with the
change model in its docstring), else generated here. Two figures:

  kept     everything stored (RAMPART_HISTORY_DETAIL_DAYS >= the history: nothing pruned),
           measured after VACUUM ANALYZE;
  pruned   the steady state with the default detail window: what history_prune leaves
           (collections of the last RAMPART_HISTORY_DETAIL_DAYS and each cluster's latest,
           the verdicts they use, every daily rollup and finding), generated afresh.

Why afresh rather than pruning the year: history_prune on a year's backlog takes hours at
1,000 clusters (every deleted evaluation makes PostgreSQL check the unindexed
posture_finding.first_seen/last_seen_evaluation foreign keys with a scan of the table), and
after deletes only VACUUM FULL would return the space. `retention_check` first proves, on a
few clusters, that the fresh generation holds exactly the rows the real prune leaves. What the
daily prune costs at the full fleet is measured on the year: the real history_prune deleting
the oldest collection of every cluster (a day deletes four).

Sizes are pg_total_relation_size (heap + TOAST + indexes) summed over every table of the bench
database; the rows are freshly written, so this is the packed floor (updates in place, such as
a run's status moves and findings' last_seen, add dead tuples that autovacuum recycles). For
the largest tables, the bytes each column takes (pg_column_size, after TOAST compression) show
where the space goes. On SQLite the figures are "n/a"; the file size is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.env import BenchEnv

TARGET_BYTES_PER_CLUSTER_YEAR = 2_000_000  # 2 GB (10^9 bytes) per 1,000 cluster-years
COLUMN_TABLES = 3  # the largest tables get a per-column breakdown
RETENTION_CHECK_CLUSTERS = 3


def run(
    env: BenchEnv,
    *,
    clusters: int,
    days: int,
    generated: dict[str, Any] | None = None,
    now: datetime | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from django.conf import settings
    from django.utils import timezone

    from bench import history
    from history.services import history_prune

    generated_here = generated is None or now is None
    if generated is None or now is None:
        now = timezone.now()
        log(f"storage: generating {clusters:,} clusters x {days} days")
        generated = history.history_generate(
            start=0, stop=clusters, days=days, now=now, base=history.template(), log=log
        ).as_dict()
        generated["fleet_days"] = history.fleet_days_write(days=days, now=now)
    cluster_years = clusters * days / 365
    out: dict[str, Any] = {
        "clusters": clusters,
        "days": days,
        "cluster_years": cluster_years,
        "database": env.database,
        "generated": generated,
        "generated_here": generated_here,
        "target_bytes_per_cluster_year": TARGET_BYTES_PER_CLUSTER_YEAR,
    }
    log("storage: VACUUM ANALYZE, sizes with everything kept")
    out["kept"] = _measure(env, cluster_years)
    # The oldest collection of every cluster: a quarter of what the daily prune deletes. Its
    # cost grows with the rows deleted (a foreign-key check each), so a day is about 4x this.
    log("storage: history_prune of the oldest collection of every cluster")
    started = time.perf_counter()
    pruned = history_prune(now=now - timedelta(hours=18), detail_days=days - 1, daily_days=0)
    out["oldest_prune"] = {"seconds": round(time.perf_counter() - started, 1), **vars(pruned)}
    # Smoke histories are shorter than the window: keep half of them in detail there.
    detail_days = min(settings.RAMPART_HISTORY_DETAIL_DAYS, max(1, days // 2))
    check = min(RETENTION_CHECK_CLUSTERS, clusters)
    log(f"storage: retention check ({check} clusters, real history_prune, {detail_days} days)")
    prune_seconds = history.retention_check(
        clusters=check, days=days, now=now, detail_days=detail_days
    )
    log(f"storage: generating {clusters:,} clusters as pruned to {detail_days} days of detail")
    regenerated = history.history_generate(
        start=0,
        stop=clusters,
        days=days,
        now=now,
        base=history.template(),
        detail_days=detail_days,
        log=log,
    ).as_dict()
    regenerated["fleet_days"] = history.fleet_days_write(days=days, now=now)
    out["retention"] = {
        "detail_days": detail_days,
        "check_clusters": check,
        "check_prune_seconds": round(prune_seconds, 1),
        "generated": regenerated,
    }
    out["pruned"] = _measure(env, cluster_years)
    return out


def _measure(env: BenchEnv, cluster_years: float) -> dict[str, Any]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:  # autocommit: VACUUM refuses to run in a transaction
        if env.database == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:  # in WAL mode the file shrinks only once the log is checkpointed
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out: dict[str, Any] = {"vacuum_seconds": round(time.perf_counter() - started, 1)}
    if env.database != "postgresql":
        path = Path(connection.settings_dict["NAME"])
        out["sqlite_file_bytes"] = path.stat().st_size if path.is_file() else None
        return out
    tables = _tables()
    total = sum(t["bytes"] for t in tables)
    out |= {
        "bytes": total,
        "bytes_per_cluster_year": round(total / cluster_years),
        "tables": tables,
        "per_collection_bytes": _per_collection(tables),
    }
    out["columns"] = {t["table"]: _columns(t["table"]) for t in tables[:COLUMN_TABLES]}
    return out


def _tables() -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
                   pg_indexes_size(c.oid),
                   coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0),
                   greatest(c.reltuples, 0)::bigint
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind = 'r'
            ORDER BY 2 DESC
            """
        )
        return [
            {
                "table": name,
                "bytes": total,
                "heap": heap,
                "indexes": indexes,
                "toast": toast,
                "rows": rows,
            }
            for name, total, heap, indexes, toast, rows in cursor.fetchall()
        ]


def _per_collection(tables: list[dict[str, Any]]) -> dict[str, int]:
    """Bytes one more unchanged collection adds: a run and an evaluation, indexes included."""
    from clusters.models import CollectionRun
    from posture.models import Evaluation

    by_name = {t["table"]: t for t in tables}
    out = {}
    for model in (CollectionRun, Evaluation):
        table = by_name.get(model._meta.db_table)
        if table and table["rows"]:
            out[model._meta.db_table] = round(table["bytes"] / table["rows"])
    return out


def _columns(table: str) -> dict[str, int]:
    """Bytes each column's values take in `table` (compressed where TOAST compressed them)."""
    from django.db import connection

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
        sums = ", ".join(f"coalesce(sum(pg_column_size({quote(n)})), 0)" for n in names)
        cursor.execute(f"SELECT {sums} FROM {quote(table)}")  # noqa: S608 (catalog names)
        values = cursor.fetchone() or ()
    ranked = sorted(zip(names, (int(v) for v in values), strict=True), key=lambda kv: -kv[1])
    return dict(ranked)
