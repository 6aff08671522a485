"""A fleet's history, written in bulk as exactly the rows the real write path leaves behind.

    base = template()
    generated = history_generate(start=0, stop=1000, days=365, now=now, base=base)
    fleet_days_write(days=365, now=now)
    write_path_check(name=cluster_name(0))

For each cluster, `days` x 4 collections six hours apart ending at `now`: a CollectionRun and an
Evaluation each, the content-addressed CheckResults and ResultSets they point at
(posture.results), the Findings reconciled on the way (posture.findings), one ClusterDay per day
and, once every cluster is written, the FleetDays (by the real posture.rollups code). Rows go
in through bench.bulk (COPY on PostgreSQL) with ids handed out here, CHUNK clusters per
transaction. `write_path_check` hands a cluster's latest verdicts to the real
`result_set_store`, which must find them already stored, and compares the open findings with
what `observed_findings` makes of those verdicts: the generated rows are the product's own.

The change model, one cluster's story collection by collection, is bench.cluster_story's; what
the real write path would store for its verdicts (content-addressed results, reconciled
findings, scores) is worked out in memory by bench.stored_rows. This module holds the entry
points: the template, the fleet generation, the FleetDays, and the checks against the product.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bench.cluster_story import (
    CATALOG,
    CHANGES_PER_WEEK,
    COLLECTIONS_PER_DAY,
    DAYS,
    FULL,
    MINOR,
    SINCE,
    ClusterHistory,
    FleetPlan,
    Pattern,
    Template,
    cluster_name,
)
from bench.stored_rows import HistoryRows, Row

__all__ = [
    "COLLECTIONS_PER_DAY",
    "Generated",
    "cluster_name",
    "fleet_days_write",
    "history_clear",
    "history_generate",
    "retention_check",
    "template",
    "write_path_check",
]

CHUNK = 20  # clusters per transaction: bounds memory and PostgreSQL's deferred FK checks
ENVIRONMENTS = ("production", "staging", "development")
_TEMPLATE_VERSION = "1.35.8"  # bench.synth's cluster
_AGE = re.compile(r"since \d{4}-\d{2}-\d{2}, \d+ days\)")


@dataclass
class Generated:
    clusters: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's, both threads; PostgreSQL's own CPU is not in it
    blocked: float = 0.0  # of which the generator waited for the database
    writing: float = 0.0  # seconds the database writes took (overlapping generation)
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, other: Generated) -> None:
        self.clusters += other.clusters
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.blocked += other.blocked
        self.writing += other.writing
        self.rows.update(other.rows)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generated:
        """The figures as_dict gave, back (a kept dataset's, bench.dataset)."""
        return cls(
            clusters=data["clusters"],
            seconds=data["seconds"],
            cpu_seconds=data["cpu_seconds"],
            blocked=data["waiting_for_database_seconds"],
            writing=data["writing_seconds"],
            rows=Counter(data["rows"]),
        )

    def as_dict(self) -> dict[str, Any]:
        total = sum(self.rows.values())
        return {
            "clusters": self.clusters,
            "seconds": round(self.seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "waiting_for_database_seconds": round(self.blocked, 1),
            "writing_seconds": round(self.writing, 1),
            "rows": dict(self.rows),
            "rows_per_second": round(total / self.seconds) if self.seconds else None,
        }


def template() -> Template:
    """Verdicts of a real evaluation of a 300-pod synthetic cluster, with placeholders."""
    from bench.synth import synthetic_cluster
    from clusters.inventory import Inventory, trim
    from posture.checks.base import run_all
    from posture.services import catalog_version, check_context

    objects, version = synthetic_cluster(300, seed=3)
    probe = {"/version": 200, "/api": 403}
    inventory = Inventory(version=version, anonymous_probe=probe)
    for key, items in objects.items():
        inventory.set_objects(key, [trim(key, item) for item in items])
    catalog = catalog_version()
    minor = ".".join(_TEMPLATE_VERSION.split(".")[:2])

    def tokens(text: str) -> str:
        text = _AGE.sub(f"since {SINCE}, {DAYS} days)", text)
        text = text.replace(_TEMPLATE_VERSION, FULL).replace(minor, MINOR)
        return text.replace(catalog, CATALOG)

    checks = {
        result.check.id: Pattern(
            status=result.status.value,
            summary=tokens(result.outcome.summary),
            affected=tuple(
                {**item, "detail": tokens(str(item.get("detail", "")))}
                for item in (a.as_dict() for a in result.outcome.affected)
            ),
        )
        for result in run_all(inventory, check_context())
    }
    return Template(
        checks=checks,
        object_counts=inventory.counts(),
        kind_status={key: str(value) for key, value in inventory.kind_status.items()},
        anonymous_probe=probe,
        catalog_version=catalog,
    )


def history_generate(
    *,
    start: int,
    stop: int,
    days: int,
    now: datetime,
    base: Template,
    changes_per_week: float = CHANGES_PER_WEEK,
    seed: int = 1,
    detail_days: int | None = None,
    log: Callable[[str], None] | None = None,
) -> Generated:
    """Clusters number `start` to `stop - 1`, each with `days` of history ending at `now`.

    With `detail_days`, only what history_prune(now=now, detail_days=detail_days,
    daily_days=0) would leave is written: the same rows, ids included (see retention_check).

    This thread generates rows; bench.bulk's RowSink writes the previous chunk meanwhile (on
    PostgreSQL, from its own thread and connection: the server's ingest then overlaps Python).
    """
    from bench.bulk import Ids, RowSink
    from clusters.models import Cluster

    started, cpu = time.perf_counter(), time.process_time()
    ids = Ids(HistoryRows.models())
    plan = FleetPlan(days=days, now=now, base=base, changes_per_week=changes_per_week, seed=seed)
    generated = Generated(clusters=stop - start)
    logged = started
    with RowSink() as sink:
        for first in range(start, stop, CHUNK):
            indexes = range(first, min(first + CHUNK, stop))
            rows = HistoryRows()
            for index in indexes:
                cluster_id = ids.take(Cluster)
                own = HistoryRows()
                run, evaluation = ClusterHistory(plan, index, cluster_id, ids, own).generate()
                if detail_days is not None:
                    own = own.retained(before=now - timedelta(days=detail_days), keep_run=run)
                rows.extend(own)
                rows.clusters.append(_cluster_row(plan, index, cluster_id, run, evaluation))
            sink.put(rows.tables())
            if log and time.perf_counter() - logged > 30:
                logged = time.perf_counter()
                log(f"history: {indexes.stop - start:,} of {stop - start:,} clusters generated")
    ids.sequences_reset()
    generated.rows.update(sink.written)
    generated.blocked, generated.writing = sink.blocked, sink.writing
    generated.seconds = time.perf_counter() - started
    generated.cpu_seconds = time.process_time() - cpu
    return generated


def _cluster_row(plan: FleetPlan, index: int, pk: int, run: int, evaluation: int) -> Row:
    from clusters.models import Cluster

    cluster = Cluster(
        pk=pk,
        name=cluster_name(index),
        environment=ENVIRONMENTS[index % len(ENVIRONMENTS)],
        source_kind=Cluster.SourceKind.KUBECONFIG,
        api_server=f"https://{cluster_name(index)}.example.com:6443",
        schedule_enabled=False,  # made-up API servers: nothing may try to collect them
        created_at=plan.first - timedelta(days=1),
        latest_run_id=run,
        latest_evaluation_id=evaluation,
    )
    return {f.attname: getattr(cluster, f.attname) for f in Cluster._meta.concrete_fields}


def fleet_days_write(*, days: int, now: datetime) -> dict[str, Any]:
    """FleetDays for every generated day, as posture.rollups.fleet_days_refresh writes them.

    That refresh reads a week of ClusterDays per fleet day (the periodic task refreshes two
    days); for a year at once, one pass over ClusterDay with a sliding week feeds the same
    `_figures` and `_fleet_values`, for the whole fleet and each environment. The last day is
    then refreshed by the real code, and every row of it must come out the same.
    Returns rows, seconds, and the seconds of that one real refresh.
    """
    from django.db.models import F
    from django.utils import timezone

    from posture import rollups as services
    from posture.models import ClusterDay, FleetDay

    started = time.perf_counter()
    end = timezone.localtime(now).date()
    first = end - timedelta(days=days)
    window = timedelta(days=services.FLEET_LOOKBACK_DAYS)
    by_day: dict[date, list[ClusterDay]] = {}
    environments: dict[int, str] = {}
    fields = ("cluster_id", "day", "score", "coverage", "open_findings", "opened", "resolved")
    rows = (
        ClusterDay.objects.filter(day__gt=first - window, day__lte=end)
        .annotate(environment=F("cluster__environment"))
        .values(*fields, "environment")
    )
    for row in rows:
        environments[row["cluster_id"]] = row.pop("environment")
        by_day.setdefault(row["day"], []).append(ClusterDay(**row))
    latest: dict[int, ClusterDay] = {}
    fleet_days: list[FleetDay] = []
    day = first - window
    while day <= end:
        for row in by_day.get(day, ()):
            latest[row.cluster_id] = row
        for cluster_id in [c for c, row in latest.items() if row.day <= day - window]:
            del latest[cluster_id]
        if day >= first:
            scopes: dict[str, list[ClusterDay]] = {"": list(latest.values())}
            for row in latest.values():
                if environments[row.cluster_id]:
                    scopes.setdefault(environments[row.cluster_id], []).append(row)
            for environment, scoped in scopes.items():
                values = services._fleet_values(services._figures(scoped, day))
                fleet_days.append(
                    FleetDay(day=day, environment=environment, refreshed_at=now, **values)
                )
        day += timedelta(days=1)
    FleetDay.objects.filter(day__gte=first, day__lte=end).delete()
    FleetDay.objects.bulk_create(fleet_days, batch_size=500)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    services.fleet_day_refresh(day=end, now=now)
    real_seconds = time.perf_counter() - started
    # time_to_fix is only known to the real refresh (it summarises today's findings).
    names = [
        f.attname for f in FleetDay._meta.concrete_fields if f.attname not in ("id", "time_to_fix")
    ]
    mine = sorted(tuple(getattr(f, n) for n in names) for f in fleet_days if f.day == end)
    real = sorted(FleetDay.objects.filter(day=end).values_list(*names))
    if mine != real:
        raise RuntimeError(f"bulk FleetDays for {end} differ from fleet_day_refresh's")
    return {
        "rows": len(fleet_days),
        "seconds": round(seconds, 1),
        "one_day_refresh_seconds": round(real_seconds, 2),
    }


def write_path_check(*, name: str) -> None:
    """The real write path finds this cluster's latest verdicts and findings already stored."""
    from django.db import transaction

    from clusters.models import Cluster
    from posture.findings import observed_findings
    from posture.models import CheckResult, Finding, ResultSet
    from posture.results import Verdict, result_set_store

    cluster = Cluster.objects.select_related("latest_evaluation").get(name=name)
    evaluation = cluster.latest_evaluation
    if evaluation is None:
        raise RuntimeError(f"{cluster}: no evaluation generated")
    results = list(evaluation.results)

    def stored() -> tuple[int, int]:
        return (
            CheckResult.objects.filter(cluster=cluster).count(),
            ResultSet.objects.filter(cluster=cluster).count(),
        )

    before = stored()
    with transaction.atomic():
        found = result_set_store(
            cluster_id=cluster.pk,
            verdicts=[Verdict(r.check_id, r.status, r.summary, r.affected) for r in results],
        )
        after = stored()
        transaction.set_rollback(True)
    if found.pk != evaluation.result_set_id or after != before:
        raise RuntimeError(
            f"{cluster}: result_set_store stored the generated verdicts again "
            f"(set {found.pk}, expected {evaluation.result_set_id}; rows {before} -> {after})"
        )
    expected: set[str] = set()
    for result in results:
        if result.status == "fail":
            expected.update(observed_findings(result.check_id, result.affected))
    open_now = set(
        Finding.objects.open().for_cluster(cluster).values_list("fingerprint", flat=True)
    )
    if open_now != expected:
        raise RuntimeError(
            f"{cluster}: open findings differ from the latest verdicts' "
            f"({len(open_now - expected)} extra, {len(expected - open_now)} missing)"
        )


def history_clear() -> None:
    """Delete every cluster and all its history (the bench database's, nothing else)."""
    from django.db import connection, transaction

    from clusters.models import Cluster
    from posture.models import FleetDay

    if connection.vendor == "postgresql":
        models = [*HistoryRows.models(), FleetDay]
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        return
    with transaction.atomic():
        Cluster.objects.all().delete()
        FleetDay.objects.all().delete()


def retention_check(*, clusters: int, days: int, now: datetime, detail_days: int) -> float:
    """Generating with `detail_days` leaves exactly the rows the real history_prune leaves.

    Clears the database; generates `clusters` clusters in full, prunes them with
    history.services.history_prune, and compares every row of every table with a generation
    of the same clusters that applied the retention itself. Returns the prune's seconds.
    """
    from history.services import history_prune

    base = template()
    history_clear()
    history_generate(start=0, stop=clusters, days=days, now=now, base=base)
    started = time.perf_counter()
    history_prune(now=now, detail_days=detail_days, daily_days=0)
    seconds = time.perf_counter() - started
    pruned = _snapshot()
    history_clear()
    history_generate(start=0, stop=clusters, days=days, now=now, base=base, detail_days=detail_days)
    direct = _snapshot()
    history_clear()
    for label, rows in pruned.items():
        if rows != direct[label]:
            differ = sum(a != b for a, b in zip(rows, direct[label], strict=False))
            raise RuntimeError(
                f"{label}: history_prune left {len(rows)} rows, the generator {len(direct[label])}"
                f" ({differ} differ)"
            )
    return seconds


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for model in HistoryRows.models():
        names = [f.attname for f in model._meta.concrete_fields]
        out[model._meta.label] = list(model.objects.order_by("pk").values_list(*names))
    return out
