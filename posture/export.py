"""The machine-readable posture of a cluster: what `manage.py posture --format json` prints."""

from __future__ import annotations

from typing import Any

from clusters.models import Cluster
from posture.models import Evaluation
from posture.verdicts import check_views


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def posture_document(cluster: Cluster, evaluation: Evaluation | None = None) -> dict[str, Any]:
    """The latest completed collection's stored verdicts; every affected object, never truncated.

    Status, points and waived objects are the stored effective verdict (waivers applied when it
    was derived); `raw_status` is what the check itself saw.
    """
    evaluation = evaluation or cluster.latest_evaluation
    document: dict[str, Any] = {"cluster": cluster.name, "environment": cluster.environment}
    if evaluation is None:
        document.update(collection=None, score=None, coverage=None, areas={}, checks=[])
        return document
    run = evaluation.run
    waivers = {waiver["id"]: waiver for waiver in evaluation.verdict_set.waivers}
    checks = []
    for view in check_views(evaluation):
        check = view.check
        checks.append(
            {
                "id": view.check_id,
                "title": view.title,
                "area": check.area.value if check else "",
                "severity": check.severity.value if check else "info",
                "status": view.status,
                "raw_status": view.raw_status,
                "summary": view.summary,
                "score_impact": view.points,
                "references": [ref.as_dict() for ref in check.references] if check else [],
                "waivers": [
                    {
                        "id": pk,
                        "owner": waivers[pk]["owner"],
                        "reason": waivers[pk]["reason"],
                        "expires_at": waivers[pk]["expires_at"],
                    }
                    for pk in view.waiver_ids
                    if pk in waivers
                ],
                "missing": list(view.missing),
                "controls": {
                    name: {"status": control.get("status"), "summary": control.get("summary")}
                    for name, control in sorted(view.controls.items())
                },
                "affected": view.affected,
                "affected_total": view.affected_total,
            }
        )
    area_details = evaluation.area_scores
    document.update(
        collection={
            "id": run.pk,
            "status": run.status,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "kind_status": run.kind_status,
        },
        kubernetes_version=run.kubernetes_version or None,
        score=evaluation.score,
        coverage=evaluation.coverage,
        waived_weight=sum(int(tally.get("waived") or 0) for tally in area_details.values()),
        areas={area: tally.get("score") for area, tally in area_details.items()},
        area_details=area_details,
        unknown_causes=[
            {"cause": cause, "checks": checks} for cause, checks in evaluation.verdict_set.causes
        ],
        catalog_version=evaluation.catalog_version,
        checks=checks,
    )
    return document
