"""One cluster's report data: its guide checklist as the evaluation of the date stored it.

The evaluation is the cluster's latest at or before the end of the report's date. Its stored
item statuses, score and coverage are copied, never recomputed; compliance.checklist writes
each item's sentence from the same stored facts the checklist page reads. Affected objects
are loaded for the failing items only (the evidence), and kept whole: the PDF caps what it
prints, the CSV counts them, the JSON lists every one.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from importlib import metadata
from typing import Any

from django.utils import timezone

from clusters.models import Cluster
from compliance.checklist import ItemRow, checklist, evaluation_state
from compliance.reports import history
from compliance.reports.scope import Scope
from posture.checks.base import REGISTRY
from posture.guides import Guide, run_distribution, verdict_key_check
from posture.models import Evaluation
from posture.scoring import WEIGHTS
from posture.status import Status

# The statuses an auditor counts, in the order the summary lists them.
COUNTED = (
    Status.PASS,
    Status.FAIL,
    Status.MANUAL,
    Status.ATTESTED,
    Status.WAIVED,
    Status.NOT_APPLICABLE,
    Status.UNKNOWN,
)
TOP_RISKS = 5
SEVERITY_ORDER = {severity.value: weight for severity, weight in WEIGHTS.items()}


def rampart_version() -> str:
    try:
        return metadata.version("rampart")
    except metadata.PackageNotFoundError:  # a checkout run without installing
        return "unknown"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _person(user: Any) -> str:
    return user.get_username() if user else "Rampart"


def counts(statuses: list[str]) -> dict[str, int]:
    counter = Counter(statuses)
    shown = {status.value: counter.pop(status.value, 0) for status in COUNTED}
    shown.update(counter)  # anything else stored (error) is counted, never hidden
    return shown


def _evidence(row: ItemRow) -> list[dict[str, Any]]:
    """Observed vs expected for each judging entry that fails, with every affected object."""
    evidence = []
    for check_row in row.checks:
        view = check_row.result
        if view is None or view.status != Status.FAIL:
            continue
        check = REGISTRY.get(check_row.check_id)
        evidence.append(
            {
                "check": check_row.key,
                "title": check.title if check else check_row.key,
                "severity": check.severity.value if check else "",
                "observed": view.summary,
                "expected": check.remediation if check else "",
                "affected_total": view.affected_total,
                "waived_total": view.waived_total,
                "affected": [
                    {
                        "kind": str(obj.get("kind", "")),
                        "namespace": str(obj.get("namespace", "")),
                        "name": str(obj.get("name", "")),
                        "detail": str(obj.get("detail", "")),
                        "waived": bool(obj.get("waived")),
                    }
                    for obj in view.affected
                ],
            }
        )
    return evidence


def _waiver_note(row: ItemRow, waivers: dict[int, dict[str, Any]]) -> str:
    applied = sorted({pk for check in row.checks if check.result for pk in check.result.waiver_ids})
    notes = []
    for pk in applied:
        terms = waivers.get(pk)
        if terms:
            until = (terms.get("expires_at") or "")[:10]
            notes.append(f"waiver #{pk} of {terms['check_id']} until {until} ({terms['owner']})")
    return "; ".join(notes)


def _attestation_note(row: ItemRow) -> str:
    attestation = row.attestation
    if attestation is None:
        return ""
    return (
        f"attested by {_person(attestation.attested_by)} on {attestation.attested_at:%Y-%m-%d}, "
        f"until {attestation.reattest_by:%Y-%m-%d}"
    )


def _item(row: ItemRow, waivers: dict[int, dict[str, Any]]) -> dict[str, Any]:
    evidence = _evidence(row) if row.status == Status.FAIL else []
    summary = row.reason or ("; ".join(e["observed"] for e in evidence) if evidence else "")
    return {
        "id": row.item.id,
        "section": row.item.section,
        "title": row.item.title,
        "evidence_class": row.item.evidence,
        "status": row.status,
        "status_label": row.label,
        "evidence_summary": summary,
        "affected_count": sum(e["affected_total"] for e in evidence),
        "attestation": _attestation_note(row),
        "waiver": _waiver_note(row, waivers),
        "checks": list(row.item.checks),
        "evidence": evidence,
    }


def _top_risks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def weight(item: dict[str, Any]) -> tuple[int, int]:
        severities = [SEVERITY_ORDER.get(e["severity"], 0) for e in item["evidence"]]
        return (max(severities, default=0), item["affected_count"])

    failing = sorted(
        (item for item in items if item["status"] == Status.FAIL), key=weight, reverse=True
    )
    return [
        {
            "id": item["id"],
            "title": item["title"],
            "severity": max(
                (e["severity"] for e in item["evidence"]),
                key=lambda s: SEVERITY_ORDER.get(s, 0),
                default="",
            ),
            "affected_count": item["affected_count"],
            "summary": item["evidence_summary"],
        }
        for item in failing[:TOP_RISKS]
    ]


def failing_checks(guide: Guide, evaluation: Evaluation) -> set[str]:
    """The checks judging the items the stored verdict has failing: whose objects to load."""
    stored = evaluation.verdict_set.items.get(guide.slug, {})
    failing = {
        item_id
        for item_id, verdict in stored.items()
        if (verdict if isinstance(verdict, str) else verdict[0]) == Status.FAIL
    }
    return {
        verdict_key_check(key) for item in guide.items if item.id in failing for key in item.checks
    }


def cluster_items(
    guide: Guide, cluster: Cluster, evaluation: Evaluation | None
) -> tuple[list[dict[str, Any]], str]:
    """(item rows, distribution) of one cluster's evaluation."""
    now = evaluation.created_at if evaluation else timezone.now()
    wanted = failing_checks(guide, evaluation) if evaluation else set()
    state = evaluation_state(cluster, evaluation, now=now, with_affected=wanted or None)
    waivers = {w["id"]: w for w in (evaluation.verdict_set.waivers if evaluation else [])}
    rows = checklist(guide, state).rows
    return [_item(row, waivers) for row in rows], state.distribution


def evaluation_summary(evaluation: Evaluation | None) -> dict[str, Any]:
    if evaluation is None:
        return {"evaluated_at": None, "score": None, "coverage": None, "catalog_version": ""}
    return {
        "evaluated_at": _iso(evaluation.created_at),
        "score": evaluation.score,
        "coverage": evaluation.coverage,
        "catalog_version": evaluation.catalog_version,
        "kubernetes_version": evaluation.run.kubernetes_version or "",
        "distribution": run_distribution(evaluation.run),
    }


def cover(
    scope: Scope, *, clusters: list[str], generated_by: str, generated_at: datetime, catalog: str
) -> dict[str, Any]:
    guide = scope.guide
    return {
        "kind": "fleet" if scope.is_fleet else "cluster",
        "clusters": clusters,
        "environment": scope.environment,
        "guide": guide.slug,
        "guide_title": guide.title,
        "guide_edition": guide.version,
        "guide_source": guide.source,
        "as_of": None if scope.start else scope.end.isoformat(),
        "period_start": scope.start.isoformat() if scope.start else None,
        "period_end": scope.end.isoformat(),
        "window_start": scope.window_start.isoformat(),
        "period_label": scope.period_label,
        "generated_by": generated_by,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "rampart_version": rampart_version(),
        "catalog_version": catalog,
    }


def cluster_report(
    scope: Scope, *, generated_by: str, generated_at: datetime, progress: Any = None
) -> dict[str, Any]:
    """The whole report of one cluster, as plain JSON-able data."""
    cluster = scope.cluster
    assert cluster is not None
    evaluation = history.evaluations_at([cluster], scope.cutoff).get(cluster.pk)
    items, distribution = cluster_items(scope.guide, cluster, evaluation)
    if progress:
        progress(40, "checklist read")
    evaluated = evaluation_summary(evaluation)
    summary = {
        **evaluated,
        "counts": counts([item["status"] for item in items]),
        "total_items": len(items),
        "top_risks": _top_risks(items),
        "trend": history.cluster_trend(cluster, scope),
    }
    data = {
        "cover": cover(
            scope,
            clusters=[cluster.name],
            generated_by=generated_by,
            generated_at=generated_at,
            catalog=evaluated["catalog_version"],
        ),
        "summary": summary,
        "items": items,
        "attestations": history.attestations(scope, [cluster]),
        "waivers": history.waivers(scope, [cluster]),
        "changes": history.changes(scope, [cluster], {cluster.pk: evaluation}),
        "methodology": history.methodology(
            scope, evaluations={cluster.name: evaluation}, distribution=distribution
        ),
    }
    if progress:
        progress(60, "history read")
    return data
