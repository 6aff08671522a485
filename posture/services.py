"""Writes of the posture app: storing an evaluation, and deriving its verdict again.

The collection pipeline (pipeline.collection) judges an inventory, derives the effective
verdict (posture.evaluation) and stores it here, in its transaction. When governance changes
(a waiver approved, revoked or expired; an attestation recorded, revoked or lapsed) the
compliance app asks `evaluation_rederive` for the cluster's latest evaluation: the same
`derive`, from the stored raw verdicts, written back with its day's rollup.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters.models import CollectionRun
from clusters.page_cache import page_data_changed
from posture import rollups
from posture.checks.base import REGISTRY, CheckContext
from posture.evaluation import DeriveContext, Derived, Governance, derive
from posture.guides import distribution_of
from posture.models import CheckResult, Evaluation
from posture.results import Verdict, result_set_store, verdict_set_store


def check_context(*, today: date | None = None) -> CheckContext:
    return CheckContext(
        allowed_registries=tuple(settings.RAMPART_ALLOWED_REGISTRIES),
        untrusted_namespace_label=settings.RAMPART_UNTRUSTED_NAMESPACE_LABEL,
        today=today or timezone.localdate(),
    )


def catalog_version() -> str:
    from posture import release_catalog

    return release_catalog.get_catalog().version


# What judging an inventory depends on besides the inventory: the check code and its data.
_JUDGING_SOURCES = (
    "posture/checks/*.py",
    "posture/pss/*.py",
    "posture/workloads.py",
    "posture/release_*.py",
    "posture/results.py",
    "posture/data/*",
    "clusters/distribution.py",  # checks read which distribution a cluster is
)


@cache
def _judging_code() -> bytes:
    root = Path(__file__).resolve().parent.parent
    hasher = hashlib.blake2b(digest_size=32)
    for pattern in _JUDGING_SOURCES:
        for path in sorted(root.glob(pattern)):
            hasher.update(path.name.encode())
            hasher.update(path.read_bytes())
    return hasher.digest()


def judging_fingerprint(*, inventory_digest: str, context: CheckContext) -> str:
    """Equal fingerprints, equal raw verdicts: the same inventory judged by the same checks,
    catalog and settings on the same day. The pipeline reuses the previous evaluation's raw
    verdicts instead of judging again when its fingerprint is the same."""
    hasher = hashlib.blake2b(_judging_code(), digest_size=32)
    hasher.update(inventory_digest.encode())
    hasher.update(catalog_version().encode())
    hasher.update(
        repr(
            (
                sorted(REGISTRY),
                context.allowed_registries,
                context.untrusted_namespace_label,
                str(context.today),
            )
        ).encode()
    )
    return hasher.hexdigest()


def derive_context(
    *,
    today: date,
    kubernetes_version: str | None,
    kind_status: dict[str, str],
    distribution: str = "",
) -> DeriveContext:
    """`distribution` is the one the collection recorded (CollectionRun.distribution); runs
    recorded before it was stored fall back to their version string."""
    return DeriveContext(
        today=today,
        distribution=distribution_of(kubernetes_version or "", distribution),
        kind_status=dict(kind_status),
    )


def _moment(value: datetime | date | None) -> datetime | None:
    """A stale-by moment as an aware datetime (an attestation lapses at local midnight)."""
    if value is None or isinstance(value, datetime):
        return value
    return timezone.make_aware(datetime.combine(value, time.min))


def _scores(evaluation: Evaluation, derived: Derived) -> None:
    report = derived.report
    evaluation.score = report.score
    evaluation.coverage = report.coverage
    evaluation.area_scores = report.area_dict()
    evaluation.status_counts = derived.status_counts


def evaluation_store(
    *,
    run: CollectionRun,
    verdicts: list[Verdict],
    derived: Derived,
    governance: Governance,
    created_at: datetime | None = None,
    judged_as: Evaluation | None = None,
    fingerprint: str = "",
) -> Evaluation:
    """Store one collection's raw and effective verdicts. Call inside its transaction.

    `judged_as`: an evaluation whose raw verdicts these are (the same judging fingerprint):
    its result set is shared as it is. `created_at` back-dates the evaluation (demo and
    benchmark history); it defaults to now.
    """
    created_at = created_at or timezone.now()
    result_set = (
        judged_as.result_set
        if judged_as is not None
        else result_set_store(cluster_id=run.cluster_id, verdicts=verdicts)
    )
    evaluation = Evaluation(
        run=run,
        cluster_id=run.cluster_id,
        judging_fingerprint=fingerprint,
        result_set=result_set,
        verdict_set=verdict_set_store(cluster_id=run.cluster_id, content=derived.as_stored()),
        verdicts_valid_until=_moment(governance.valid_until(timezone.localdate(created_at))),
        catalog_version=catalog_version(),
        created_at=created_at,
    )
    _scores(evaluation, derived)
    evaluation.save()
    page_data_changed(cluster_id=run.cluster_id)
    return evaluation


def stored_verdicts(evaluation: Evaluation, *, affected_of: set[str]) -> list[Verdict]:
    """The evaluation's raw verdicts as stored. Affected objects are loaded only for the
    checks in `affected_of` (those governance may waive): the rest need only their counts."""
    rows = evaluation.results.values_list("check_id", "status", "summary", "controls", "missing")
    affected = dict(
        CheckResult.objects.filter(
            pk__in=evaluation.result_set.result_ids, check_id__in=affected_of
        ).values_list("check_id", "affected")
    )
    return [
        Verdict(
            check_id=check_id,
            status=status,
            summary=summary,
            affected=affected.get(check_id, ()),
            controls=controls or {},
            missing=missing or (),
        )
        for check_id, status, summary, controls, missing in rows
    ]


def evaluation_rederive(
    *, evaluation: Evaluation, governance: Governance, now: datetime | None = None
) -> Evaluation:
    """Derive the evaluation's effective verdict again, for governance as it stands now.

    History keeps the verdicts it had at the time; callers re-derive a cluster's latest
    evaluation. Call inside the transaction that changed the governance.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    run = evaluation.run
    verdicts = stored_verdicts(
        evaluation, affected_of={waiver.check_id for waiver in governance.waivers}
    )
    derived = derive(
        verdicts,
        governance=governance,
        context=derive_context(
            today=today,
            kubernetes_version=run.kubernetes_version,
            kind_status=run.kind_status,
            distribution=run.distribution,
        ),
    )
    with transaction.atomic():
        evaluation.verdict_set = verdict_set_store(
            cluster_id=evaluation.cluster_id, content=derived.as_stored()
        )
        evaluation.verdicts_valid_until = _moment(governance.valid_until(today))
        _scores(evaluation, derived)
        evaluation.save(
            update_fields=[
                "verdict_set",
                "verdicts_valid_until",
                "score",
                "coverage",
                "area_scores",
                "status_counts",
            ]
        )
        rollups.day_rederived(evaluation=evaluation)
        page_data_changed(cluster_id=evaluation.cluster_id)
    return evaluation
