"""One cluster's story: what changes in its verdicts, and when, collection by collection.

`ClusterHistory(plan, index, cluster_id, ids, rows).generate()` appends a cluster's runs,
evaluations and daily rollups to `rows`, and hands each collection's changed verdicts to
bench.stored_rows, which adds the CheckResults, ResultSets and Findings the real write path
would. `FleetPlan` is what every cluster of one generation shares: the time slots, the
release-catalog updates and the score sums.

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

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bench.stored_rows import ClusterRecords, HistoryRows, Row, ScoreSums, Stamp
from clusters.distribution import from_version

COLLECTIONS_PER_DAY = 4
CHANGES_PER_WEEK = 3.0
CHANGE_KINDS = {"fix": 0.4, "regression": 0.4, "release": 0.2}
UPGRADE_EVERY_DAYS = (60.0, 90.0)
KUBELET_CATCHES_UP_DAYS = (20.0, 60.0)
CATALOG_EVERY_DAYS = 30
FAILED_SHARE = 0.003
KUBELET_BEHIND = "patching.kubelet_behind"
KUBELET_CHECKS = (KUBELET_BEHIND, "patching.mixed_node_images")
DIGEST_PINNING = "supply_chain.digest_pinning"

# Placeholders in the template's texts, filled per cluster and collection.
FULL, MINOR, CATALOG, SINCE, DAYS = "\x01", "\x02", "\x03", "\x04", "\x05"
_TOKEN = re.compile("[\x01-\x05]")
_LEADING_COUNT = re.compile(r"^\d+")
_IMAGE_TAG = re.compile(r":(\d+)\.(\d+)\.(\d+) ")


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


def cluster_name(index: int) -> str:
    return f"fleet-{index:05d}"


@dataclass
class FleetPlan:
    """What every cluster of one generation shares: time slots, catalog releases, score sums."""

    days: int
    now: datetime
    base: Template
    changes_per_week: float
    seed: int
    scores: ScoreSums = field(default_factory=ScoreSums)

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


def _older(version: str, age_days: int) -> str:
    if not age_days:
        return version
    try:
        released = datetime.strptime(version, "%Y.%m.%d")
    except ValueError:
        return f"{version}-{age_days}d"
    return (released - timedelta(days=age_days)).strftime("%Y.%m.%d")


class ClusterHistory:
    """One cluster's collections, oldest first, appended to `rows`; see the module docstring."""

    def __init__(
        self, plan: FleetPlan, index: int, cluster_id: int, ids: Any, rows: HistoryRows
    ) -> None:
        self.plan, self.index, self.cluster_id = plan, index, cluster_id
        self.ids, self.rows = ids, rows
        self.records = ClusterRecords(cluster_id=cluster_id, ids=ids, rows=rows, scores=plan.scores)
        self.rng = random.Random(plan.seed * 1_000_003 + index)
        self.minor = 33 + self.rng.randrange(3)
        self.patch = 1 + self.rng.randrange(6)
        self.catalog = 0  # index into plan.catalogs
        self.since: date | None = None  # the day a kubelet fell behind; None: up to date
        self.serial = 1000  # names of objects that start failing
        scale = self.rng.choice((0.3, 0.5, 1.0, 1.0, 2.0, 4.0))
        self.object_counts = {k: round(v * scale) for k, v in plan.base.object_counts.items()}
        self.patterns = self._varied(plan.base.checks)

    def generate(self) -> tuple[int, int]:
        """Append every row of this cluster's history: (latest run id, latest evaluation id)."""
        from clusters.models import CollectionRun
        from posture.models import Evaluation
        from posture.rollups import area_score_map

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
        current: tuple[Any, ...] = ()  # (result set id, verdict set id, scores, open findings)
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
            set_id, verdict_set_id, scores, open_findings = current
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
                    "verdict_set_id": verdict_set_id,
                    "verdicts_valid_until": None,
                    "judging_fingerprint": "",
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
        self.records.findings_add(latest=latest[1])
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
            "distribution": from_version(self._version),
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
            "distribution": "",
            "last_error": "",
            "attempts": 1,
            # A finished run as the worker leaves it: sent when requested, last beat at start.
            "enqueued_at": at,
            "heartbeat_at": at + timedelta(seconds=1),
        }

    def _day_close(self, day: Row | None) -> None:
        if day is not None and day["collections"]:  # day_record runs only with an evaluation
            self.rows.days.append(day)

    def _day(self, today: date) -> Row:
        from posture.models import ClusterDay

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
        """The changed checks' verdicts, stored: see ClusterRecords.store."""
        verdicts = [self._render(check_id, today) for check_id in sorted(changed)]
        return self.records.store(verdicts, evaluation, previous)


def _bump_tag(match: re.Match[str]) -> str:
    major, minor, patch = (int(g) for g in match.groups())
    return f":{major}.{minor}.{patch + 1} "
