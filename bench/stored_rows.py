"""What the real write path stores for one cluster's verdicts, worked out in memory.

bench.cluster_story decides what each collection's verdicts are; this module turns them into
the rows the product's own code would leave behind, without a query:

- `ClusterRecords.store`: result_set_store (a CheckResult per new verdict, content-addressed
  by digest, and a ResultSet per new combination), then findings_reconcile for the checks that
  changed (Findings opened, reopened, resolved), keeping each Finding's state in memory until
  `findings_add` writes its final row.
- `ScoreSums`: the effective verdict posture.evaluation.derive computes (a VerdictSet's content
  and the evaluation's score, coverage, area_scores, status_counts), derived once per distinct
  input and shared by every cluster of a fleet.
- `HistoryRows`: one table's worth of rows per model, in foreign-key order for bench.bulk, and
  `retained`, what history_prune leaves of them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

Row = dict[str, Any]
Stamp = tuple[int, datetime]  # an evaluation: (id, created_at)


@dataclass
class HistoryRows:
    """Rows to write, a list per table (attname-keyed dicts, as bench.bulk takes them)."""

    clusters: list[Row] = field(default_factory=list)
    results: list[Row] = field(default_factory=list)
    sets: list[Row] = field(default_factory=list)
    verdict_sets: list[Row] = field(default_factory=list)
    runs: list[Row] = field(default_factory=list)
    evaluations: list[Row] = field(default_factory=list)
    findings: list[Row] = field(default_factory=list)
    days: list[Row] = field(default_factory=list)

    @staticmethod
    def models() -> list[Any]:
        """Every model written here, in an order that satisfies the foreign keys."""
        from clusters.models import Cluster, CollectionRun
        from posture.models import (
            CheckResult,
            ClusterDay,
            Evaluation,
            Finding,
            ResultSet,
            VerdictSet,
        )

        return [
            Cluster,
            CheckResult,
            ResultSet,
            VerdictSet,
            CollectionRun,
            Evaluation,
            Finding,
            ClusterDay,
        ]

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
        verdict_set_ids = {e["verdict_set_id"] for e in evaluations}
        result_ids = {pk for s in sets for pk in s["result_ids"]}

        def unlinked(row: Row, *links: str) -> Row:
            return row | {k: None for k in links if row[k] not in evaluation_ids}

        links = [f"{k}_evaluation_id" for k in ("first_seen", "last_seen", "opened", "resolved")]
        return HistoryRows(
            clusters=self.clusters,
            results=[r for r in self.results if r["id"] in result_ids],
            sets=sets,
            verdict_sets=[v for v in self.verdict_sets if v["id"] in verdict_set_ids],
            runs=runs,
            evaluations=evaluations,
            findings=[unlinked(f, *links) for f in self.findings],
            days=[unlinked(d, "evaluation_id") for d in self.days],
        )

    def tables(self) -> list[tuple[Any, list[Row]]]:
        tables = [
            self.clusters,
            self.results,
            self.sets,
            self.verdict_sets,
            self.runs,
            self.evaluations,
        ]
        return list(zip(self.models(), [*tables, self.findings, self.days], strict=True))


@dataclass
class ScoreSums:
    """The real derivation of each distinct input, shared by every cluster of a fleet.

    Without waivers or attestations, what `derive` computes depends on each check's status
    and, for an unknown check, its summary (the cause it shows); keyed by exactly that, one
    derivation serves every collection and cluster that saw the same.
    """

    derived: dict[tuple[Any, ...], tuple[Row, str, tuple[Any, ...]]] = field(default_factory=dict)

    def derive(self, verdicts: Iterable[Any]) -> tuple[Row, str, tuple[Any, ...]]:
        """(VerdictSet content, its digest, (score, coverage, area_scores, status_counts))."""
        from posture.evaluation import Governance, derive
        from posture.services import derive_context
        from posture.status import UNJUDGED

        listed = sorted(verdicts, key=lambda v: v.check_id)
        key = tuple(
            (v.check_id, v.status, v.summary if v.status in UNJUDGED else "") for v in listed
        )
        found = self.derived.get(key)
        if found is None:
            from datetime import date

            result = derive(
                listed,
                governance=Governance(),
                context=derive_context(today=date.today(), kubernetes_version="", kind_status={}),
            )
            content = result.as_stored()
            digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
            report = result.report
            found = self.derived[key] = (
                content,
                digest,
                (report.score, report.coverage, report.area_dict(), result.status_counts),
            )
        return found


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
        self.verdicts: dict[str, Any] = {}
        self.known: dict[tuple[str, str], int] = {}
        self.sets: dict[str, int] = {}
        self.verdict_sets: dict[str, int] = {}
        self.findings: dict[str, dict[str, _Finding]] = {}  # check -> fingerprint -> finding
        self.open_counts: Counter[str] = Counter()  # open findings by severity

    def store(
        self, verdicts: Iterable[Any], evaluation: Stamp, previous: Stamp | None
    ) -> tuple[tuple[Any, ...], int, int]:
        """result_set_store, then findings_reconcile, for the verdicts of the checks that changed.

        Returns ((result set id, verdict set id, scores, open findings by severity), opened,
        resolved).
        """
        from posture.models import CheckResult, ResultSet, VerdictSet

        opened = resolved = 0
        for verdict in verdicts:
            check_id = verdict.check_id
            digest = verdict.digest
            if self.digests.get(check_id) == digest:
                continue
            self.digests[check_id] = digest
            self.statuses[check_id] = verdict.status
            self.verdicts[check_id] = verdict
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
                        "controls": dict(verdict.controls),
                        "missing": list(verdict.missing),
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
        content, content_digest, scores = self.scores.derive(self.verdicts.values())
        verdict_set_id = self.verdict_sets.get(content_digest)
        if verdict_set_id is None:
            verdict_set_id = self.verdict_sets[content_digest] = self.ids.take(VerdictSet)
            self.rows.verdict_sets.append(
                {
                    "id": verdict_set_id,
                    "cluster_id": self.cluster_id,
                    "digest": content_digest,
                    **content,
                }
            )
        open_findings = {severity: n for severity, n in self.open_counts.items() if n}
        return (set_id, verdict_set_id, scores, open_findings), opened, resolved

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
