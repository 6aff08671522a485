"""Storing verdicts by content, so history grows with change and not with collections.

A cluster collected four times a day without change would otherwise add 71 rows per
collection; here it adds none: its evaluation points at the ResultSet the previous one used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from posture.checks.base import Result
from posture.models import CheckResult, ResultSet, VerdictSet

BATCH = 500


@dataclass(frozen=True)
class Verdict:
    """One check's raw verdict, as stored: what `derive` and every page start from.

    `controls` maps a control the check judges (`sysctls` of pss.baseline) to
    {"status", "summary", "affected": [[index into affected, detail], ...]}; `missing` names the
    inputs that were not collected.
    """

    check_id: str
    status: str
    summary: str = ""
    affected: Sequence[dict[str, Any]] = field(default_factory=tuple)
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: Sequence[str] = ()

    @property
    def digest(self) -> str:
        payload = orjson.dumps(
            [self.status, self.summary, list(self.affected), self.controls, list(self.missing)],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(payload).hexdigest()


def verdict_of(result: Result) -> Verdict:
    """A check run's outcome as a stored verdict; controls point into the check's own list."""
    outcome = result.outcome
    affected = [item.as_dict() for item in outcome.affected]
    position: dict[tuple[str, str, str], int] = {}
    for index, item in enumerate(outcome.affected):
        position.setdefault((item.kind, item.namespace, item.name), index)
    controls = {
        name: {
            "status": str(control.status),
            "summary": control.summary,
            "affected": [
                [position.get((item.kind, item.namespace, item.name), -1), item.detail]
                for item in control.affected
            ],
        }
        for name, control in sorted(outcome.controls.items())
    }
    return Verdict(
        check_id=result.check.id,
        status=str(outcome.status),
        summary=outcome.summary,
        affected=affected,
        controls=controls,
        missing=tuple(outcome.missing),
    )


def result_set_store(*, cluster_id: int, verdicts: Iterable[Verdict]) -> ResultSet:
    """The ResultSet holding these verdicts, reusing every row already stored for the cluster.

    Call inside the evaluation's transaction. One collection runs per cluster at a time
    (clusters.models.CollectionRun's partial unique index), so nothing races these inserts.
    """
    by_check = {verdict.check_id: verdict for verdict in verdicts}
    digests = {check_id: verdict.digest for check_id, verdict in by_check.items()}
    set_digest = hashlib.sha256(
        orjson.dumps(sorted(digests.items()), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    existing_set = ResultSet.objects.filter(cluster_id=cluster_id, digest=set_digest).first()
    if existing_set is not None:
        return existing_set
    known = {
        (check_id, digest): pk
        for check_id, digest, pk in CheckResult.objects.filter(
            cluster_id=cluster_id, digest__in=set(digests.values())
        ).values_list("check_id", "digest", "pk")
    }
    missing = [
        CheckResult(
            cluster_id=cluster_id,
            check_id=check_id,
            digest=digests[check_id],
            status=verdict.status,
            summary=verdict.summary,
            affected_total=len(verdict.affected),
            affected=list(verdict.affected),
            controls=verdict.controls,
            missing=list(verdict.missing),
        )
        for check_id, verdict in by_check.items()
        if (check_id, digests[check_id]) not in known
    ]
    for row in CheckResult.objects.bulk_create(missing, batch_size=BATCH):
        known[(row.check_id, row.digest)] = row.pk
    return ResultSet.objects.create(
        cluster_id=cluster_id,
        digest=set_digest,
        statuses={check_id: verdict.status for check_id, verdict in sorted(by_check.items())},
        result_ids=sorted(known[(check_id, digests[check_id])] for check_id in by_check),
    )


def verdict_set_store(*, cluster_id: int, content: dict[str, Any]) -> VerdictSet:
    """The VerdictSet with this content (posture.evaluation.Derived.as_stored), shared.

    Same transaction and same one-collection-per-cluster guarantee as `result_set_store`; a
    re-derivation after a waiver change runs under the waiver row's lock.
    """
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    verdict_set, _ = VerdictSet.objects.get_or_create(
        cluster_id=cluster_id, digest=digest, defaults=content
    )
    return verdict_set


def unreferenced_delete(*, cluster_id: int) -> tuple[int, int, int]:
    """Delete the cluster's result and verdict sets no evaluation uses, then results no set
    uses. Returns (result sets, verdict sets, results) deleted."""
    sets_deleted, _ = ResultSet.objects.filter(
        cluster_id=cluster_id, evaluations__isnull=True
    ).delete()
    verdict_sets_deleted, _ = VerdictSet.objects.filter(
        cluster_id=cluster_id, evaluations__isnull=True
    ).delete()
    referenced: set[int] = set()
    for ids in ResultSet.objects.filter(cluster_id=cluster_id).values_list("result_ids", flat=True):
        referenced.update(ids)
    stale = [
        pk
        for pk in CheckResult.objects.filter(cluster_id=cluster_id).values_list("pk", flat=True)
        if pk not in referenced
    ]
    results_deleted = 0
    for start in range(0, len(stale), BATCH):
        deleted, _ = CheckResult.objects.filter(pk__in=stale[start : start + BATCH]).delete()
        results_deleted += deleted
    return sets_deleted, verdict_sets_deleted, results_deleted
