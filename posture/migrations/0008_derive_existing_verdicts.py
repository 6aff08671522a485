"""Effective verdicts stored once per evaluation (VerdictSet), derived for existing history.

Each existing evaluation is derived from its stored raw verdicts under the governance that was
in force when it was made: waivers approved before it and not yet expired or revoked then,
attestations recorded before it and not revoked then. Evaluations of one cluster that share
their raw verdicts, distribution and governance share one derivation.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils import timezone


def _active_at(rows: list[Any], at: Any, *, since: str, until: str | None) -> list[Any]:
    found = []
    for row in rows:
        start = getattr(row, since)
        if start is None or start > at:
            continue
        if row.revoked_at is not None and row.revoked_at <= at:
            continue
        if until is not None and getattr(row, until) <= at:
            continue
        found.append(row)
    return found


def derive_existing(apps: Any, schema_editor: Any) -> None:
    import hashlib

    import orjson

    from posture.checklist import AttestationTerms
    from posture.evaluation import DeriveContext, Governance, WaiverTerms, derive
    from posture.guides import distribution_of
    from posture.results import Verdict

    Evaluation = apps.get_model("posture", "Evaluation")
    CheckResult = apps.get_model("posture", "CheckResult")
    VerdictSet = apps.get_model("posture", "VerdictSet")
    Waiver = apps.get_model("compliance", "Waiver")
    Attestation = apps.get_model("compliance", "Attestation")
    cluster_ids = Evaluation.objects.values_list("cluster_id", flat=True).distinct()
    for cluster_id in cluster_ids:
        waivers = list(Waiver.objects.filter(cluster_id=cluster_id, approved_at__isnull=False))
        attestations = list(Attestation.objects.filter(cluster_id=cluster_id))
        derived_for: dict[tuple[Any, ...], Any] = {}
        evaluations = Evaluation.objects.filter(cluster_id=cluster_id).select_related(
            "run", "result_set"
        )
        for evaluation in evaluations.order_by("created_at", "pk"):
            at = evaluation.created_at
            today = timezone.localdate(at)
            governance = Governance(
                waivers=tuple(
                    WaiverTerms(
                        id=w.pk,
                        check_id=w.check_id,
                        namespaces=tuple(w.namespaces),
                        workloads=tuple(w.workloads),
                        expires_at=w.expires_at,
                        owner=w.owner_email,
                        reason=w.reason,
                    )
                    for w in _active_at(waivers, at, since="approved_at", until="expires_at")
                ),
                attestations=tuple(
                    AttestationTerms(a.pk, a.guide, a.item_id, a.reattest_by)
                    for a in _active_at(attestations, at, since="attested_at", until=None)
                ),
            )
            run = evaluation.run
            distribution = distribution_of(run.kubernetes_version or "")
            key = (
                evaluation.result_set_id,
                distribution,
                today if governance.attestations else None,
                governance,
            )
            if key not in derived_for:
                waived = {w.check_id for w in governance.waivers}
                rows = CheckResult.objects.filter(pk__in=evaluation.result_set.result_ids)
                verdicts = [
                    Verdict(
                        check_id=row.check_id,
                        status=row.status,
                        summary=row.summary,
                        affected=row.affected if row.check_id in waived else (),
                    )
                    for row in rows
                ]
                result = derive(
                    verdicts,
                    governance=governance,
                    context=DeriveContext(
                        today=today, distribution=distribution, kind_status=run.kind_status or {}
                    ),
                )
                content = result.as_stored()
                digest = hashlib.sha256(
                    orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
                ).hexdigest()
                verdict_set, _ = VerdictSet.objects.get_or_create(
                    cluster_id=cluster_id, digest=digest, defaults=content
                )
                derived_for[key] = (verdict_set, result)
            verdict_set, result = derived_for[key]
            report = result.report
            Evaluation.objects.filter(pk=evaluation.pk).update(
                verdict_set=verdict_set,
                score=report.score,
                coverage=report.coverage,
                area_scores=report.area_dict(),
                status_counts=result.status_counts,
            )


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_roles"), ("posture", "0007_verdict_sets")]

    operations = [migrations.RunPython(derive_existing, migrations.RunPython.noop, elidable=True)]
