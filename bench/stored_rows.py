"""What the real write path stores for one cluster's verdicts, worked out in memory.

bench.cluster_story decides what each collection's verdicts are; this module turns them into
the rows the product's own code would leave behind, without a query:

- `ClusterRecords.store`: result_set_store (a CheckResult per new verdict, content-addressed
  by digest, and a ResultSet per new combination), then findings_reconcile for the checks that
  changed (Findings opened, reopened, resolved), keeping each Finding's state in memory until
  `findings_add` writes its final row.
- `ScoreSums`: the (score, coverage, area_scores, status_counts) evaluation_create computes,
  from summed posture.scoring tallies, checked against `score()` itself.
- `HistoryRows`: one table's worth of rows per model, in foreign-key order for bench.bulk, and
  `retained`, what history_prune leaves of them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import orjson

SCORE_CHECKS = 100  # score reports also computed by posture.scoring.score, to compare

Row = dict[str, Any]
Stamp = tuple[int, datetime]  # an evaluation: (id, created_at)


@dataclass
class HistoryRows:
    """Rows to write, a list per table (attname-keyed dicts, as bench.bulk takes them)."""

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

    def extend(self, other: HistoryRows) -> None:
        for name, rows in vars(other).items():
            getattr(self, name).extend(rows)

    def retained(self, *, before: datetime, keep_run: int) -> HistoryRows:
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
        return HistoryRows(
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
class ScoreSums:
    """Score reports by the statuses they summarise, shared by every cluster of a fleet."""

    scores: dict[tuple[tuple[str, str], ...], tuple[Any, ...]] = field(default_factory=dict)
    deltas: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = field(default_factory=dict)

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


class ClusterRecords:
    """One cluster's stored verdicts and findings, as result_set_store and findings_reconcile
    would see them; the rows they add are appended to `rows`."""

    def __init__(self, *, cluster_id: int, ids: Any, rows: HistoryRows, scores: ScoreSums) -> None:
        self.cluster_id, self.ids, self.rows, self.scores = cluster_id, ids, rows, scores
        self.digests: dict[str, str] = {}
        self.statuses: dict[str, str] = {}
        self.result_ids: dict[str, int] = {}
        self.known: dict[tuple[str, str], int] = {}
        self.sets: dict[str, int] = {}
        self.findings: dict[str, dict[str, _Finding]] = {}  # check -> fingerprint -> finding
        self.open_counts: Counter[str] = Counter()  # open findings by severity

    def store(
        self, verdicts: Iterable[Any], evaluation: Stamp, previous: Stamp | None
    ) -> tuple[tuple[Any, ...], int, int]:
        """result_set_store, then findings_reconcile, for the verdicts of the checks that changed.

        Returns ((result set id, scores, open findings by severity), opened, resolved).
        """
        from posture.models import CheckResult, ResultSet

        opened = resolved = 0
        for verdict in verdicts:
            check_id = verdict.check_id
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
        return (set_id, self.scores.score(statuses), open_findings), opened, resolved

    def findings_add(self, *, latest: Stamp) -> None:
        """Append every Finding's row as it stands after the `latest` evaluation."""
        from posture.models import Finding

        for by_fingerprint in self.findings.values():
            for finding in by_fingerprint.values():
                self.rows.findings.append(
                    finding.row(self.ids.take(Finding), self.cluster_id, latest)
                )

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
