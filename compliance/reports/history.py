"""The period around a report's date: trend, changes, attestations and waivers on record.

The trend comes from the daily rollups (posture.models.ClusterDay, FleetDay), which hold the
stored score of each day's last evaluation. Changes come from findings (their lifecycle: first
seen, opened, resolved, times reopened) and from comparing the stored item statuses of the
evaluations at the window's two ends. Findings keep their latest episode only, so a finding
that resolved and reopened twice inside the window counts once.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Q, Subquery

from clusters.models import Cluster
from compliance.models import Attestation, Waiver
from compliance.reports.scope import Scope
from posture.guides import EVIDENCE_CLASSES, Guide, verdict_key_check
from posture.models import ClusterDay, Evaluation, Finding, FleetDay
from posture.status import Status

# Items that were fine at the window's start and fail at its end are regressions.
FINE = frozenset({Status.PASS, Status.ATTESTED, Status.WAIVED, Status.NOT_APPLICABLE})
EVIDENCE_LABELS = {
    "K8S": "Kubernetes API objects, read with a read-only collector",
    "K8S-PRIV": "Kubernetes API objects only privileged readers may list",
    "GKE": "the GKE Cluster resource (provider API or uploaded describe JSON)",
    "GCP-OTHER": "other Google Cloud settings (attested by a person)",
    "NODE": "node-level files and flags (imported kube-bench results, else attested)",
    "PROBE": "an unauthenticated probe of the API server",
    "MANUAL": "a person's attestation with evidence",
}
assert set(EVIDENCE_LABELS) == EVIDENCE_CLASSES


def evaluations_at(clusters: list[Cluster], cutoff: datetime) -> dict[int, Evaluation]:
    """Each cluster's latest evaluation created before `cutoff`, in two queries."""
    latest = (
        Evaluation.objects.filter(cluster=OuterRef("pk"), created_at__lt=cutoff)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    ids = dict(
        Cluster.objects.filter(pk__in=[c.pk for c in clusters])
        .annotate(evaluation_id=Subquery(latest))
        .values_list("pk", "evaluation_id")
    )
    found = Evaluation.objects.filter(pk__in=[pk for pk in ids.values() if pk]).select_related(
        "run", "verdict_set", "result_set"
    )
    return {evaluation.cluster_id: evaluation for evaluation in found}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _person(user: Any) -> str:
    return user.get_username() if user else "Rampart"


def guide_checks(guide: Guide) -> set[str]:
    return {verdict_key_check(key) for item in guide.items for key in item.checks}


# --- Trend --------------------------------------------------------------------------------


def cluster_trend(cluster: Cluster, scope: Scope) -> list[dict[str, Any]]:
    rows = (
        ClusterDay.objects.for_cluster(cluster)
        .between(scope.window_start, scope.end)
        .order_by("day")
        .values_list("day", "score", "coverage")
    )
    return [{"day": day.isoformat(), "score": s, "coverage": c} for day, s, c in rows]


def fleet_trend(scope: Scope) -> list[dict[str, Any]]:
    rows = (
        FleetDay.objects.filter(
            environment=scope.environment, day__gte=scope.window_start, day__lte=scope.end
        )
        .order_by("day")
        .values_list("day", "mean_score", "mean_coverage")
    )
    return [{"day": day.isoformat(), "score": s, "coverage": c} for day, s, c in rows]


# --- Governance on record -------------------------------------------------------------------


def attestations(scope: Scope, clusters: list[Cluster]) -> list[dict[str, Any]]:
    """The guide's attestations recorded by the report's date, with their state on it."""
    cutoff = scope.cutoff
    rows = (
        Attestation.objects.filter(
            cluster__in=clusters, guide=scope.guide.slug, attested_at__lt=cutoff
        )
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gte=scope.window_cutoff_start))
        .select_related("cluster", "attested_by", "revoked_by")
        .order_by("cluster__name", "item_id", "-attested_at")
    )
    out = []
    for a in rows:
        revoked = a.revoked_at is not None and a.revoked_at < cutoff
        state = "revoked" if revoked else ("lapsed" if scope.end > a.reattest_by else "active")
        out.append(
            {
                "cluster": a.cluster.name,
                "item": a.item_id,
                "attested_by": _person(a.attested_by),
                "attested_at": _iso(a.attested_at),
                "justification": a.justification,
                "evidence": a.evidence_link or (a.evidence_file.name or "").rsplit("/", 1)[-1],
                "lapses_on": a.reattest_by.isoformat(),
                "state": state,
                "revoked_by": _person(a.revoked_by) if revoked else "",
                "revoked_at": _iso(a.revoked_at) if revoked else None,
            }
        )
    return out


def waivers(scope: Scope, clusters: list[Cluster]) -> list[dict[str, Any]]:
    """Waivers of the guide's checks that were in force, or asked for, during the window."""
    cutoff, since = scope.cutoff, scope.window_cutoff_start
    rows = (
        Waiver.objects.filter(
            cluster__in=clusters,
            check_id__in=guide_checks(scope.guide),
            requested_at__lt=cutoff,
            expires_at__gt=since,
        )
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=since))
        .select_related("cluster", "requested_by", "approved_by", "revoked_by")
        .order_by("cluster__name", "check_id", "requested_at")
    )
    out = []
    for w in rows:
        if w.revoked_at and w.revoked_at < cutoff:
            state = "revoked"
        elif w.expires_at <= cutoff:
            state = "expired"
        elif w.approved_at and w.approved_at < cutoff:
            state = "active"
        else:
            state = "pending"
        scope_text = ", ".join([*w.namespaces, *w.workloads]) or "the whole check"
        out.append(
            {
                "cluster": w.cluster.name,
                "id": w.pk,
                "check": w.check_id,
                "owner": w.owner_email,
                "requested_by": _person(w.requested_by),
                "requested_at": _iso(w.requested_at),
                "approved_by": _person(w.approved_by) if w.approved_at else "",
                "approved_at": _iso(w.approved_at),
                "reason": w.reason,
                "scope": scope_text,
                "expires_at": _iso(w.expires_at),
                "state": state,
            }
        )
    return out


# --- Changes in the window ------------------------------------------------------------------


def _finding(row: Finding, names: dict[int, str]) -> dict[str, Any]:
    fixed = (
        (row.resolved_at - row.opened_at).total_seconds() / 3600
        if row.resolved_at and row.status == Finding.Status.RESOLVED
        else None
    )
    return {
        "cluster": names[row.cluster_id],
        "check": row.check_id,
        "severity": row.severity,
        "object": "/".join(part for part in (row.kind, row.namespace, row.name) if part),
        "field": row.field,
        "first_seen_at": _iso(row.first_seen_at),
        "opened_at": _iso(row.opened_at),
        "resolved_at": _iso(row.resolved_at),
        "times_reopened": row.times_reopened,
        "hours_to_fix": round(fixed, 1) if fixed is not None else None,
    }


def _item_statuses(evaluation: Evaluation | None, guide: str) -> dict[str, str]:
    if evaluation is None:
        return {}
    stored = evaluation.verdict_set.items.get(guide, {})
    return {k: (v if isinstance(v, str) else v[0]) for k, v in stored.items()}


def changes(
    scope: Scope, clusters: list[Cluster], at_end: dict[int, Evaluation | None]
) -> dict[str, Any]:
    since, cutoff = scope.window_cutoff_start, scope.cutoff
    names = {c.pk: c.name for c in clusters}
    findings = Finding.objects.filter(
        cluster__in=clusters, check_id__in=guide_checks(scope.guide)
    ).order_by("cluster_id", "check_id", "namespace", "kind", "name")
    new = [
        _finding(f, names)
        for f in findings.filter(first_seen_at__gte=since, first_seen_at__lt=cutoff)
    ]
    resolved = [
        _finding(f, names)
        for f in findings.filter(
            status=Finding.Status.RESOLVED, resolved_at__gte=since, resolved_at__lt=cutoff
        )
    ]
    reopened = [
        _finding(f, names)
        for f in findings.filter(
            times_reopened__gt=0, opened_at__gte=since, opened_at__lt=cutoff
        ).exclude(first_seen_at__gte=since)
    ]
    at_start = evaluations_at(clusters, since)
    regressions, recoveries = [], []
    for cluster in clusters:
        before = _item_statuses(at_start.get(cluster.pk), scope.guide.slug)
        after = _item_statuses(at_end.get(cluster.pk), scope.guide.slug)
        for item in scope.guide.items:
            was, now = before.get(item.id), after.get(item.id)
            if was is None or now is None or was == now:
                continue
            change = {"cluster": cluster.name, "item": item.id, "title": item.title}
            if now == Status.FAIL and was in FINE:
                regressions.append({**change, "was": was, "now": now})
            elif was == Status.FAIL and now in FINE:
                recoveries.append({**change, "was": was, "now": now})
    return {
        "new": new,
        "resolved": resolved,
        "reopened": reopened,
        "regressions": regressions,
        "recoveries": recoveries,
        "time_to_fix": _time_to_fix(resolved),
    }


def _time_to_fix(resolved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_severity: dict[str, list[float]] = {}
    for row in resolved:
        if row["hours_to_fix"] is not None:
            by_severity.setdefault(row["severity"], []).append(row["hours_to_fix"])
    order = ["critical", "high", "medium", "low", "info"]
    return [
        {
            "severity": severity,
            "fixed": len(hours),
            "median_hours": round(statistics.median(hours), 1),
            "mean_hours": round(statistics.fmean(hours), 1),
            "longest_hours": round(max(hours), 1),
        }
        for severity, hours in sorted(
            by_severity.items(),
            key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order),
        )
    ]


# --- Methodology ------------------------------------------------------------------------------


def guide_scope(guide: Guide, distribution: str) -> list[dict[str, Any]]:
    """Per evidence class: how many items, how many judged by checks, how many attested."""
    rows: dict[str, dict[str, Any]] = {}
    for item in guide.items:
        row = rows.setdefault(
            item.evidence,
            {
                "evidence": item.evidence,
                "source": EVIDENCE_LABELS[item.evidence],
                "items": 0,
                "automated": 0,
                "manual": 0,
                "not_applicable": 0,
            },
        )
        row["items"] += 1
        if item.not_applicable_reason(guide, distribution):
            row["not_applicable"] += 1
        elif item.checks:
            row["automated"] += 1
        else:
            row["manual"] += 1
    return sorted(rows.values(), key=lambda row: -row["items"])


def methodology(
    scope: Scope, *, evaluations: dict[str, Evaluation | None], distribution: str
) -> dict[str, Any]:
    checks = guide_checks(scope.guide)
    freshness = []
    causes: dict[str, set[str]] = {}
    for name, evaluation in sorted(evaluations.items()):
        at = evaluation.created_at if evaluation else None
        freshness.append(
            {
                "cluster": name,
                "evaluated_at": _iso(at),
                "age_days": round((scope.cutoff - at).total_seconds() / 86400, 1) if at else None,
            }
        )
        for cause, check_ids in evaluation.verdict_set.causes if evaluation else []:
            judged = checks.intersection(check_ids)
            if judged:
                causes.setdefault(cause, set()).update(judged)
    return {
        "freshness": freshness,
        "guide_scope": guide_scope(scope.guide, distribution),
        "distribution": distribution,
        "unknown_causes": [
            {"cause": cause, "checks": len(ids)}
            for cause, ids in sorted(causes.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "sections": [
            {"id": section.id, "title": section.title, "items": len(section.items)}
            for section in scope.guide.sections
        ],
    }
