"""A fleet's history, written in bulk as exactly the rows the real write path leaves behind.

    base = template()
    generated = history_generate(start=0, stop=1000, days=365, now=now, base=base)
    fleet_days_write(days=365, now=now)
    write_path_check(name=cluster_name(0))

For each cluster, `days` x 4 collections six hours apart ending at `now`: a CollectionRun and an
Evaluation each, the content-addressed CheckResults and ResultSets they point at
(posture.results), the Findings reconciled on the way (posture.findings), one ClusterDay per day
and, once every cluster is written, the FleetDays (by the real history.services code). Rows go
in through bench.bulk (COPY on PostgreSQL) with ids handed out here, CHUNK clusters per
transaction. `write_path_check` hands a cluster's latest verdicts to the real
`result_set_store`, which must find them already stored, and compares the open findings with
what `observed_findings` makes of those verdicts: the generated rows are the product's own.

Change model, per cluster. Verdicts start from a real evaluation of a 300-pod synthetic cluster
(bench.synth: 71 checks, 21 failing, 87 findings), varied per cluster (a quarter of the failing
checks fixed, a few passing ones failing, long affected lists trimmed).

- Most collections change nothing: the evaluation reuses the previous ResultSet.
- About CHANGES_PER_WEEK = 3 changes a week (a Poisson process): a fix (one affected object
  gone; the last one turns the check to pass), a regression (a new affected object; a passing
  check may start failing) or a release (an unpinned image gets a new tag, which changes
  supply_chain.digest_pinning's detail). Each adds a CheckResult for that check and a ResultSet,
  and reconciles that check's findings.
- A Kubernetes upgrade every 60-90 days (half of them to a new minor): verdicts whose text names
  the version change (control-plane and kubelet patching, Pod Security's "v1.35"); the kubelets
  catch up (kubelet_behind and mixed_node_images pass) until a new patch appears 20-60 days on.
- While a kubelet is behind, kubelet_behind says "(a fix was available since <date>, N days)":
  N grows daily, so that check gets a new CheckResult, and the cluster a new ResultSet, every
  day. That is the real check's text (posture/checks/patching_nodes.py), so it is a real cost.
- A release-catalog update every 30 days, fleet-wide: verdicts naming the catalog version
  change; evaluations record the new catalog_version.
- Pods churn: every run's object_counts differ (pods and ReplicaSets drift by a few percent).
- 0.3 % of collections fail (unreachable): a failed run and no evaluation.

Not modelled: a run's in-place updates (pending -> running -> finished) and findings' last_seen
moves leave dead tuples that autovacuum recycles rather than new rows; partial runs; waivers.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

import orjson

COLLECTIONS_PER_DAY = 4
CHANGES_PER_WEEK = 3.0
CHANGE_KINDS = {"fix": 0.4, "regression": 0.4, "release": 0.2}
UPGRADE_EVERY_DAYS = (60.0, 90.0)
KUBELET_CATCHES_UP_DAYS = (20.0, 60.0)
CATALOG_EVERY_DAYS = 30
FAILED_SHARE = 0.003
SCORE_CHECKS = 100  # score reports also computed by posture.scoring.score, to compare
CHUNK = 20  # clusters per transaction: bounds memory and PostgreSQL's deferred FK checks
ENVIRONMENTS = ("production", "staging", "development")
KUBELET_BEHIND = "patching.kubelet_behind"
KUBELET_CHECKS = (KUBELET_BEHIND, "patching.mixed_node_images")
DIGEST_PINNING = "supply_chain.digest_pinning"

# Placeholders in the template's texts, filled per cluster and collection.
FULL, MINOR, CATALOG, SINCE, DAYS = "\x01", "\x02", "\x03", "\x04", "\x05"
_TOKEN = re.compile("[\x01-\x05]")
_TEMPLATE_VERSION = "1.35.8"  # bench.synth's cluster
_AGE = re.compile(r"since \d{4}-\d{2}-\d{2}, \d+ days\)")
_LEADING_COUNT = re.compile(r"^\d+")
_IMAGE_TAG = re.compile(r":(\d+)\.(\d+)\.(\d+) ")

Row = dict[str, Any]
Stamp = tuple[int, datetime]  # an evaluation: (id, created_at)


@dataclass(frozen=True)
class Pattern:
    """One check's verdict with placeholders, which a cluster's state renders into a Verdict."""

    status: str
    summary: str
    affected: tuple[dict[str, str], ...] = ()

    def mentions(self, *tokens: str) -> bool:
        texts = [self.summary, *(item["detail"] for item in self.affected)]
        return any(token in text for text in texts for token in tokens)


@dataclass
class Template:
    checks: dict[str, Pattern]
    object_counts: dict[str, int]
    kind_status: dict[str, str]
    anonymous_probe: dict[str, int]
    catalog_version: str


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


def cluster_name(index: int) -> str:
    return f"fleet-{index:05d}"


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
    ids = Ids(_Rows.models())
    plan = _Plan(days=days, now=now, base=base, changes_per_week=changes_per_week, seed=seed)
    generated = Generated(clusters=stop - start)
    logged = started
    with RowSink() as sink:
        for first in range(start, stop, CHUNK):
            indexes = range(first, min(first + CHUNK, stop))
            rows = _Rows()
            for index in indexes:
                cluster_id = ids.take(Cluster)
                own = _Rows()
                run, evaluation = _ClusterHistory(plan, index, cluster_id, ids, own).generate()
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


def _cluster_row(plan: _Plan, index: int, pk: int, run: int, evaluation: int) -> Row:
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
    """FleetDays for every generated day, as history.services.fleet_days_refresh writes them.

    That refresh reads a week of ClusterDays per fleet day (the periodic task refreshes two
    days); for a year at once, one pass over ClusterDay with a sliding week feeds the same
    `_figures` and `_fleet_values`, for the whole fleet and each environment. The last day is
    then refreshed by the real code, and every row of it must come out the same.
    Returns rows, seconds, and the seconds of that one real refresh.
    """
    from django.db.models import F
    from django.utils import timezone

    from history import services
    from history.models import ClusterDay, FleetDay

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
    from history.models import FleetDay

    if connection.vendor == "postgresql":
        models = [*_Rows.models(), FleetDay]
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
    for model in _Rows.models():
        names = [f.attname for f in model._meta.concrete_fields]
        out[model._meta.label] = list(model.objects.order_by("pk").values_list(*names))
    return out


@dataclass
class _Rows:
    clusters: list[Row] = field(default_factory=list)
    results: list[Row] = field(default_factory=list)
    sets: list[Row] = field(default_factory=list)
    runs: list[Row] = field(default_factory=list)
    evaluations: list[Row] = field(default_factory=list)
    findings: list[Row] = field(default_factory=list)
    days: list[Row] = field(default_factory=list)

    @staticmethod
    def models() -> list[Any]:
        """Every model written here, in an order that satisfies the foreign keys."""
        from clusters.models import Cluster, CollectionRun
        from history.models import ClusterDay
        from posture.models import CheckResult, Evaluation, Finding, ResultSet

        return [Cluster, CheckResult, ResultSet, CollectionRun, Evaluation, Finding, ClusterDay]

    def extend(self, other: _Rows) -> None:
        for name, rows in vars(other).items():
            getattr(self, name).extend(rows)

    def retained(self, *, before: datetime, keep_run: int) -> _Rows:
        """What history_prune leaves of one cluster's rows: collections from `before` on and
        the latest, the verdicts they use, every rollup and finding (links to deleted
        evaluations nulled, as on_delete=SET_NULL does)."""
        runs = [r for r in self.runs if r["created_at"] >= before or r["id"] == keep_run]
        run_ids = {r["id"] for r in runs}
        evaluations = [e for e in self.evaluations if e["run_id"] in run_ids]
        evaluation_ids = {e["id"] for e in evaluations}
        set_ids = {e["result_set_id"] for e in evaluations}
        sets = [s for s in self.sets if s["id"] in set_ids]
        result_ids = {pk for s in sets for pk in s["result_ids"]}

        def unlinked(row: Row, *links: str) -> Row:
            return row | {k: None for k in links if row[k] not in evaluation_ids}

        links = [f"{k}_evaluation_id" for k in ("first_seen", "last_seen", "opened", "resolved")]
        return _Rows(
            clusters=self.clusters,
            results=[r for r in self.results if r["id"] in result_ids],
            sets=sets,
            runs=runs,
            evaluations=evaluations,
            findings=[unlinked(f, *links) for f in self.findings],
            days=[unlinked(d, "evaluation_id") for d in self.days],
        )

    def tables(self) -> list[tuple[Any, list[Row]]]:
        tables = [self.clusters, self.results, self.sets, self.runs, self.evaluations]
        return list(zip(self.models(), [*tables, self.findings, self.days], strict=True))


@dataclass
class _Plan:
    days: int
    now: datetime
    base: Template
    changes_per_week: float
    seed: int
    scores: dict[tuple[tuple[str, str], ...], tuple[Any, ...]] = field(default_factory=dict)
    deltas: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from django.utils import timezone

        self.zone = timezone.get_current_timezone()  # localtime() looks it up on every call
        self.slots = self.days * COLLECTIONS_PER_DAY
        self.step = timedelta(hours=24 / COLLECTIONS_PER_DAY)
        self.first = self.now - self.step * self.slots
        # Catalog releases, oldest first: (released at, version); the first predates the history.
        current = self.base.catalog_version
        self.catalogs: list[tuple[datetime, str]] = []
        for age in range(0, self.days + CATALOG_EVERY_DAYS + 1, CATALOG_EVERY_DAYS):
            self.catalogs.insert(0, (self.now - timedelta(days=age), _older(current, age)))

    def score(self, statuses: dict[str, str]) -> tuple[Any, ...]:
        """(score, coverage, area_scores, status_counts) as evaluation_create computes them.

        posture.scoring's tallies only ever add, so each (check, status) adds a fixed delta,
        taken once from the real Tally.add; summing deltas is ten times faster than `score()`
        over 71 checks, and the first SCORE_CHECKS reports are compared with `score()` itself.
        """
        key = tuple(statuses.items())
        found = self.scores.get(key)
        if found is not None:
            return found
        from posture.checks.base import Area
        from posture.scoring import ScoreReport, Tally, score, scored_verdict

        by_area: dict[str, list[tuple[int, ...]]] = {area.value: [] for area in Area}
        for item in key:
            delta = self.deltas.get(item)
            if delta is None:
                weighed = scored_verdict(*item)
                tally = Tally()
                tally.add(weighed)
                delta = self.deltas[item] = (weighed.area, _TALLY_FIELDS(vars(tally)))
            by_area.setdefault(delta[0], []).append(delta[1])
        report = ScoreReport(
            overall=_tally([values for area in by_area.values() for values in area]),
            areas={area: _tally(deltas) for area, deltas in by_area.items()},
        )
        found = self.scores[key] = (
            report.score,
            report.coverage,
            report.area_dict(),
            dict(Counter(statuses.values())),
        )
        if len(self.scores) <= SCORE_CHECKS:
            real = score(scored_verdict(*item) for item in key)
            if (real.score, real.coverage, real.area_dict()) != found[:3]:
                raise RuntimeError(f"summed tallies disagree with posture.scoring: {found[:3]}")
        return found


_TALLY_NAMES = ("earned", "possible", "waived", "judged", "unjudged")
_TALLY_FIELDS = itemgetter(*_TALLY_NAMES)


def _tally(deltas: list[tuple[int, ...]]) -> Any:
    from posture.scoring import Tally

    sums = (sum(column) for column in zip(*deltas, strict=True)) if deltas else ()
    return Tally(**dict(zip(_TALLY_NAMES, sums, strict=False)))


def _older(version: str, age_days: int) -> str:
    if not age_days:
        return version
    try:
        released = datetime.strptime(version, "%Y.%m.%d")
    except ValueError:
        return f"{version}-{age_days}d"
    return (released - timedelta(days=age_days)).strftime("%Y.%m.%d")


class _Finding:
    """What findings_reconcile would leave in one Finding row: its state, kept in memory."""

    __slots__ = (
        "detail",
        "first",
        "identity",
        "last",
        "opened",
        "reopened",
        "resolved",
        "severity",
    )

    def __init__(self, seen: Any, evaluation: Stamp) -> None:
        self.identity = seen.identity
        self.severity: str = seen.severity
        self.detail: str = seen.detail
        self.first = self.opened = self.last = evaluation
        self.resolved: Stamp | None = None
        self.reopened = 0

    def row(self, pk: int, cluster_id: int, latest: Stamp) -> Row:
        identity = self.identity
        last = self.last if self.resolved else latest  # open: every evaluation moves last_seen
        resolved_id, resolved_at = self.resolved or (None, None)
        return {
            "id": pk,
            "cluster_id": cluster_id,
            "check_id": identity.check_id,
            "fingerprint": identity.fingerprint,
            "kind": identity.kind,
            "namespace": identity.namespace,
            "name": identity.name,
            "field": identity.field,
            "severity": self.severity,
            "status": "resolved" if self.resolved else "open",
            "detail": self.detail,
            "first_seen_evaluation_id": self.first[0],
            "first_seen_at": self.first[1],
            "last_seen_evaluation_id": last[0],
            "last_seen_at": last[1],
            "opened_evaluation_id": self.opened[0],
            "opened_at": self.opened[1],
            "resolved_evaluation_id": resolved_id,
            "resolved_at": resolved_at,
            "times_reopened": self.reopened,
        }


class _ClusterHistory:
    """One cluster's collections, oldest first, appended to `rows`; see the module docstring."""

    def __init__(self, plan: _Plan, index: int, cluster_id: int, ids: Any, rows: _Rows) -> None:
        self.plan, self.index, self.cluster_id = plan, index, cluster_id
        self.ids, self.rows = ids, rows
        self.rng = random.Random(plan.seed * 1_000_003 + index)
        self.minor = 33 + self.rng.randrange(3)
        self.patch = 1 + self.rng.randrange(6)
        self.catalog = 0  # index into plan.catalogs
        self.since: date | None = None  # the day a kubelet fell behind; None: up to date
        self.serial = 1000  # names of objects that start failing
        scale = self.rng.choice((0.3, 0.5, 1.0, 1.0, 2.0, 4.0))
        self.object_counts = {k: round(v * scale) for k, v in plan.base.object_counts.items()}
        self.patterns = self._varied(plan.base.checks)
        # The stored state, as result_set_store and findings_reconcile would see it.
        self.digests: dict[str, str] = {}
        self.statuses: dict[str, str] = {}
        self.result_ids: dict[str, int] = {}
        self.known: dict[tuple[str, str], int] = {}
        self.sets: dict[str, int] = {}
        self.findings: dict[str, dict[str, _Finding]] = {}  # check -> fingerprint -> finding
        self.open_counts: Counter[str] = Counter()  # open findings by severity

    def generate(self) -> tuple[int, int]:
        """Append every row of this cluster's history: (latest run id, latest evaluation id)."""
        from clusters.models import CollectionRun
        from history.services import area_score_map
        from posture.models import Evaluation

        plan, rng, ids = self.plan, self.rng, self.ids
        events = self._schedule()
        start = plan.first + timedelta(seconds=rng.uniform(0, plan.step.total_seconds() - 600))
        first_day = start.astimezone(plan.zone).date()
        if rng.random() < 0.5:
            self._kubelet_behind(first_day - timedelta(days=rng.randrange(100)))
        else:
            self._kubelet_current()
        changed: set[str] = set(self.patterns)
        latest: tuple[int, Stamp] | None = None
        previous: Stamp | None = None
        current: tuple[Any, ...] = ()  # (result set id, scores, open findings)
        day: dict[str, Any] | None = None
        for slot in range(plan.slots):
            at = start + plan.step * slot + timedelta(seconds=rng.uniform(0, 90))
            today = at.astimezone(plan.zone).date()
            if day is None or day["day"] != today:
                self._day_close(day)
                day = self._day(today)
                if self.since is not None and self.patterns[KUBELET_BEHIND].mentions(DAYS):
                    changed.add(KUBELET_BEHIND)  # "N days" moved on
            changed.update(self._events(events.get(slot, ()), at, today))
            run_id = ids.take(CollectionRun)
            if slot and slot < plan.slots - 1 and rng.random() < FAILED_SHARE:
                self.rows.runs.append(self._failed_run(run_id, at))
                continue
            evaluation: Stamp = (ids.take(Evaluation), at + timedelta(seconds=rng.uniform(5, 12)))
            opened = resolved = 0
            if changed:
                current, opened, resolved = self._store(changed, today, evaluation, previous)
                changed = set()
            set_id, scores, open_findings = current
            self.rows.runs.append(self._run(run_id, at, evaluation[1]))
            score, coverage, area_scores, status_counts = scores
            self.rows.evaluations.append(
                {
                    "id": evaluation[0],
                    "run_id": run_id,
                    "cluster_id": self.cluster_id,
                    "created_at": evaluation[1],
                    "score": score,
                    "coverage": coverage,
                    "area_scores": area_scores,
                    "status_counts": status_counts,
                    "catalog_version": plan.catalogs[self.catalog][1],
                    "open_findings": open_findings,
                    "result_set_id": set_id,
                }
            )
            day["evaluation_id"] = evaluation[0]
            day["collections"] += 1
            day["score"], day["coverage"] = score, coverage
            if score is not None:
                lowest = day["lowest_score"]
                day["lowest_score"] = score if lowest is None else min(lowest, score)
            day["area_scores"] = area_score_map(area_scores)
            day["open_findings"] = open_findings
            day["opened"] += opened
            day["resolved"] += resolved
            day["kubernetes_version"] = self._version
            latest = (run_id, evaluation)
            previous = evaluation
        self._day_close(day)
        if latest is None:
            raise RuntimeError("no evaluation generated")
        from posture.models import Finding

        for by_fingerprint in self.findings.values():
            for finding in by_fingerprint.values():
                self.rows.findings.append(
                    finding.row(ids.take(Finding), self.cluster_id, latest[1])
                )
        return latest[0], latest[1][0]

    @property
    def _version(self) -> str:
        return f"v1.{self.minor}.{self.patch}"

    def _run(self, pk: int, at: datetime, evaluated_at: datetime) -> Row:
        rng, base = self.rng, self.plan.base
        counts = dict(self.object_counts)
        counts["pods"] = max(1, round(counts.get("pods", 1) * rng.uniform(0.95, 1.05)))
        counts["replicasets"] = round(counts.get("replicasets", 1) * rng.uniform(1.0, 1.3))
        started = at + timedelta(seconds=1)
        fetch = round((evaluated_at - started).total_seconds() * 0.85, 3)
        evaluate = round((evaluated_at - started).total_seconds() * 0.15, 3)
        return {
            **self._run_common(pk, at),
            "status": "succeeded",
            "finished_at": evaluated_at + timedelta(seconds=0.2),
            "fetch_seconds": fetch,
            "evaluate_seconds": evaluate,
            "kubernetes_version": self._version,
            "object_counts": counts,
            "kind_status": base.kind_status,
            "anonymous_probe": base.anonymous_probe,
        }

    def _failed_run(self, pk: int, at: datetime) -> Row:
        host = f"{cluster_name(self.index)}.example.com:6443"
        return {
            **self._run_common(pk, at),
            "status": "failed",
            "finished_at": at + timedelta(seconds=31),
            "fetch_seconds": None,
            "evaluate_seconds": None,
            "kubernetes_version": "",
            "object_counts": {},
            "kind_status": {},
            "anonymous_probe": None,
            "last_error": f"Unreachable: {host}: connection refused",
        }

    def _run_common(self, pk: int, at: datetime) -> Row:
        return {
            "id": pk,
            "cluster_id": self.cluster_id,
            "trigger": "schedule",
            "bundle": "",
            "requested_by_id": None,
            "created_at": at,
            "started_at": at + timedelta(seconds=1),
            "progress": "",
            "kind_errors": {},
            "last_error": "",
            "attempts": 1,
        }

    def _day_close(self, day: Row | None) -> None:
        if day is not None and day["collections"]:  # day_record runs only with an evaluation
            self.rows.days.append(day)

    def _day(self, today: date) -> Row:
        from history.models import ClusterDay

        return {
            "id": self.ids.take(ClusterDay),
            "cluster_id": self.cluster_id,
            "day": today,
            "evaluation_id": None,
            "collections": 0,
            "score": None,
            "lowest_score": None,
            "coverage": 0.0,
            "area_scores": {},
            "open_findings": {},
            "opened": 0,
            "resolved": 0,
            "kubernetes_version": "",
        }

    # -- what changes --------------------------------------------------------------------------

    def _schedule(self) -> dict[int, list[tuple[str, str]]]:
        """Slot -> events for the whole history: changes, upgrades, kubelets falling behind."""
        plan, rng = self.plan, self.rng
        events: dict[int, list[tuple[str, str]]] = {}
        per_slot = plan.changes_per_week / (7 * COLLECTIONS_PER_DAY)
        kinds, weights = list(CHANGE_KINDS), list(CHANGE_KINDS.values())
        slot = 0.0
        while per_slot > 0:
            slot += rng.expovariate(per_slot)
            if slot >= plan.slots:
                break
            events.setdefault(int(slot), []).append(("change", rng.choices(kinds, weights)[0]))
        day = rng.uniform(0, UPGRADE_EVERY_DAYS[1])
        while day < plan.days:
            events.setdefault(int(day * COLLECTIONS_PER_DAY), []).append(("upgrade", ""))
            behind = day + rng.uniform(*KUBELET_CATCHES_UP_DAYS)
            if behind < plan.days:
                events.setdefault(int(behind * COLLECTIONS_PER_DAY), []).append(("behind", ""))
            day += rng.uniform(*UPGRADE_EVERY_DAYS)
        return events

    def _events(self, events: Iterable[tuple[str, str]], at: datetime, today: date) -> set[str]:
        """Apply this slot's events (and a catalog release); the checks whose verdict changed."""
        changed: set[str] = set()
        catalogs = self.plan.catalogs
        while self.catalog + 1 < len(catalogs) and catalogs[self.catalog + 1][0] <= at:
            self.catalog += 1
            changed.update(c for c, p in self.patterns.items() if p.mentions(CATALOG))
        for kind, change in events:
            if kind == "change":
                changed.update(self._change(change))
            elif kind == "upgrade":
                changed.update(self._upgrade())
            else:
                changed.update(self._kubelet_behind(today))
        return changed

    def _change(self, kind: str) -> list[str]:
        """One fix, regression or release: the check it changed, if any."""
        rng, patterns = self.rng, self.patterns
        pinning = patterns.get(DIGEST_PINNING)
        if kind == "release" and pinning and pinning.status == "fail" and pinning.affected:
            items = list(pinning.affected)
            at = rng.randrange(len(items))
            items[at] = {**items[at], "detail": _IMAGE_TAG.sub(_bump_tag, items[at]["detail"])}
            patterns[DIGEST_PINNING] = Pattern("fail", pinning.summary, tuple(items))
            return [DIGEST_PINNING]
        judged = [
            check_id
            for check_id, pattern in patterns.items()
            if pattern.status in ("pass", "fail") and not check_id.startswith("patching.")
        ]
        failing = [check_id for check_id in judged if patterns[check_id].status == "fail"]
        if kind == "fix" and failing:
            check_id = rng.choice(failing)
            items = list(patterns[check_id].affected)
            if items:
                items.pop(rng.randrange(len(items)))
            patterns[check_id] = (
                self._failing(check_id, tuple(items)) if items else self._passing(check_id)
            )
            return [check_id]
        check_id = rng.choice(judged)
        items = [*patterns[check_id].affected, self._new_item(check_id)]
        patterns[check_id] = self._failing(check_id, tuple(items))
        return [check_id]

    def _upgrade(self) -> list[str]:
        if self.rng.random() < 0.5:
            self.minor, self.patch = self.minor + 1, 1 + self.rng.randrange(3)
        else:
            self.patch += 1 + self.rng.randrange(2)
        self._kubelet_current()
        return [c for c, p in self.patterns.items() if p.mentions(FULL, MINOR)] + list(
            KUBELET_CHECKS
        )

    def _kubelet_current(self) -> None:
        self.since = None
        for check_id in KUBELET_CHECKS:
            self.patterns[check_id] = self._passing(check_id)

    def _kubelet_behind(self, since: date) -> list[str]:
        self.since = since
        for check_id in KUBELET_CHECKS:
            self.patterns[check_id] = self.plan.base.checks[check_id]
        return list(KUBELET_CHECKS)

    # -- verdict contents ----------------------------------------------------------------------

    def _varied(self, checks: dict[str, Pattern]) -> dict[str, Pattern]:
        rng = self.rng
        varied = dict(checks)
        for check_id, pattern in checks.items():
            if check_id.startswith("patching."):
                continue
            if pattern.status == "fail" and rng.random() < 0.25:
                varied[check_id] = self._passing(check_id)
            elif pattern.status == "fail" and len(pattern.affected) > 2 and rng.random() < 0.5:
                keep = rng.randrange(1, len(pattern.affected) + 1)
                varied[check_id] = self._failing(check_id, pattern.affected[:keep])
            elif pattern.status == "pass" and rng.random() < 0.04:
                items = tuple(self._new_item(check_id) for _ in range(rng.randrange(1, 4)))
                varied[check_id] = self._failing(check_id, items)
        return varied

    def _passing(self, check_id: str) -> Pattern:
        original = self.plan.base.checks[check_id]
        if original.status == "pass":
            return original
        from posture.checks.base import REGISTRY

        return Pattern("pass", f"No problem found: {REGISTRY[check_id].title}.")

    def _failing(self, check_id: str, affected: tuple[dict[str, str], ...]) -> Pattern:
        original = self.plan.base.checks[check_id]
        if original.status == "fail":
            summary = _LEADING_COUNT.sub(str(len(affected)), original.summary)
        else:
            from posture.checks.base import REGISTRY

            summary = f"{len(affected)} object(s) fail: {REGISTRY[check_id].title}"
        return Pattern("fail", summary, affected)

    def _new_item(self, check_id: str) -> dict[str, str]:
        from posture.checks.base import REGISTRY

        self.serial += 1
        like = self.plan.base.checks[check_id].affected
        item = dict(self.rng.choice(like)) if like else {"kind": "Deployment", "detail": ""}
        item["namespace"] = f"team-{self.rng.randrange(40):04d}"
        item["name"] = f"svc-{self.serial:05d}"
        item["detail"] = item["detail"] or REGISTRY[check_id].title
        return item

    def _render(self, check_id: str, today: date) -> Any:
        from posture.results import Verdict

        since = self.since or today
        values = {
            FULL: f"1.{self.minor}.{self.patch}",
            MINOR: f"1.{self.minor}",
            CATALOG: self.plan.catalogs[self.catalog][1],
            SINCE: since.isoformat(),
            DAYS: str((today - since).days),
        }

        def fill(text: str) -> str:
            return _TOKEN.sub(lambda m: values[m.group()], text) if _TOKEN.search(text) else text

        pattern = self.patterns[check_id]
        return Verdict(
            check_id=check_id,
            status=pattern.status,
            summary=fill(pattern.summary),
            affected=[{**item, "detail": fill(item["detail"])} for item in pattern.affected],
        )

    # -- the stored rows -----------------------------------------------------------------------

    def _store(
        self, changed: Iterable[str], today: date, evaluation: Stamp, previous: Stamp | None
    ) -> tuple[tuple[Any, ...], int, int]:
        """result_set_store, then findings_reconcile, for the checks that changed.

        Returns ((result set id, scores, open findings by severity), opened, resolved).
        """
        from posture.models import CheckResult, ResultSet

        opened = resolved = 0
        for check_id in sorted(changed):
            verdict = self._render(check_id, today)
            digest = verdict.digest
            if self.digests.get(check_id) == digest:
                continue
            self.digests[check_id] = digest
            self.statuses[check_id] = verdict.status
            pk = self.known.get((check_id, digest))
            if pk is None:
                pk = self.known[(check_id, digest)] = self.ids.take(CheckResult)
                self.rows.results.append(
                    {
                        "id": pk,
                        "cluster_id": self.cluster_id,
                        "check_id": check_id,
                        "digest": digest,
                        "status": verdict.status,
                        "summary": verdict.summary,
                        "affected_total": len(verdict.affected),
                        "affected": list(verdict.affected),
                    }
                )
            self.result_ids[check_id] = pk
            new, gone = self._reconcile(verdict, evaluation, previous)
            opened += new
            resolved += gone
        set_digest = hashlib.sha256(
            orjson.dumps(sorted(self.digests.items()), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        statuses = dict(sorted(self.statuses.items()))
        set_id = self.sets.get(set_digest)
        if set_id is None:
            set_id = self.sets[set_digest] = self.ids.take(ResultSet)
            self.rows.sets.append(
                {
                    "id": set_id,
                    "cluster_id": self.cluster_id,
                    "digest": set_digest,
                    "statuses": statuses,
                    "result_ids": sorted(self.result_ids.values()),
                }
            )
        open_findings = {severity: n for severity, n in self.open_counts.items() if n}
        return (set_id, self.plan.score(statuses), open_findings), opened, resolved

    def _reconcile(
        self, verdict: Any, evaluation: Stamp, previous: Stamp | None
    ) -> tuple[int, int]:
        """posture.findings.findings_reconcile for one check: (opened, resolved)."""
        from posture.findings import observed_findings

        if verdict.status == "fail":
            observed = observed_findings(verdict.check_id, verdict.affected)
        elif verdict.status == "pass":
            observed = {}
        else:
            return 0, 0  # unknown, error, not applicable: its findings stay as they are
        existing = self.findings.setdefault(verdict.check_id, {})
        opened = resolved = 0
        counts = self.open_counts
        for fingerprint, seen in observed.items():
            finding = existing.get(fingerprint)
            if finding is None:
                finding = existing[fingerprint] = _Finding(seen, evaluation)
                opened += 1
            elif finding.resolved is not None:
                finding.resolved = None
                finding.reopened += 1
                finding.opened = finding.last = evaluation
                opened += 1
            else:
                counts[finding.severity] -= 1
            finding.detail, finding.severity = seen.detail, seen.severity
            counts[finding.severity] += 1
        for fingerprint, finding in existing.items():
            if finding.resolved is None and fingerprint not in observed:
                finding.resolved = evaluation
                finding.last = previous or evaluation  # the last evaluation that still saw it
                counts[finding.severity] -= 1
                resolved += 1
        return opened, resolved


def _bump_tag(match: re.Match[str]) -> str:
    major, minor, patch = (int(g) for g in match.groups())
    return f":{major}.{minor}.{patch + 1} "
