"""The machine-readable posture of a cluster: what `manage.py posture --format json` prints."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clusters.models import Cluster
from posture.checks.base import REGISTRY
from posture.models import Evaluation
from posture.scoring import score, scored_verdict


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def posture_document(cluster: Cluster, evaluation: Evaluation | None = None) -> dict[str, Any]:
    """The latest completed collection's verdicts; every affected object, never truncated."""
    from posture import checks as _load  # noqa: F401  (registers the catalog)

    evaluation = evaluation or cluster.latest_evaluation
    document: dict[str, Any] = {"cluster": cluster.name, "environment": cluster.environment}
    if evaluation is None:
        document.update(collection=None, score=None, coverage=None, areas={}, checks=[])
        return document
    # Imported here: compliance builds on posture, and waivers are applied at read time so an
    # approval, revocation or expiry shows at once without a new collection.
    from compliance.services import effective_results

    run = evaluation.run
    results = effective_results(evaluation, now=timezone.now())
    items = [scored_verdict(result.check_id, result.status) for result in results]
    report = score(items)
    checks = []
    for result, item in zip(results, items, strict=True):
        check = REGISTRY.get(result.check_id)
        checks.append(
            {
                "id": result.check_id,
                "title": check.title if check else result.check_id,
                "area": item.area,
                "severity": item.severity,
                "status": result.status,
                "raw_status": result.raw_status,
                "summary": result.summary,
                "score_impact": report.contribution(item),
                "references": [ref.as_dict() for ref in check.references] if check else [],
                "waivers": [
                    {
                        "id": waiver.pk,
                        "owner": waiver.owner_email,
                        "reason": waiver.reason,
                        "expires_at": _iso(waiver.expires_at),
                    }
                    for waiver in result.waivers
                ],
                "affected": result.affected,
                "affected_total": result.affected_total,
            }
        )
    document.update(
        collection={
            "id": run.pk,
            "status": run.status,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "kind_status": run.kind_status,
        },
        kubernetes_version=run.kubernetes_version or None,
        score=report.score,
        coverage=report.coverage,
        waived_weight=report.overall.waived,
        areas={area: tally.score for area, tally in report.areas.items()},
        area_details=report.area_dict(),
        catalog_version=evaluation.catalog_version,
        checks=checks,
    )
    return document
