"""A fleet report: every cluster's stored checklist for the guide, aggregated item by item.

Each cluster is read exactly as its own report reads it (compliance.reports.data): the
evaluation of the date, its stored item statuses. An item's fleet status is the most urgent of
its clusters' (posture.status.Status order: one failing cluster makes the item fail); the counts
are of cluster-items, so they add up to clusters x items and match each cluster's report.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from clusters.models import Cluster
from compliance.reports import history
from compliance.reports.data import (
    SEVERITY_ORDER,
    TOP_RISKS,
    cluster_items,
    counts,
    cover,
    evaluation_summary,
)
from compliance.reports.scope import Scope
from posture.status import Status

NAMED_CLUSTERS = 5  # an item's summary names this many failing clusters, then counts


def fleet_clusters(scope: Scope) -> list[Cluster]:
    clusters = Cluster.objects.order_by("name")
    if scope.environment:
        clusters = clusters.filter(environment=scope.environment)
    return list(clusters)


def _summary_line(failing: list[dict[str, Any]], statuses: Counter[str], total: int) -> str:
    if failing:
        names = [row["cluster"] for row in failing]
        shown = ", ".join(names[:NAMED_CLUSTERS])
        more = f" and {len(names) - NAMED_CLUSTERS} more" if len(names) > NAMED_CLUSTERS else ""
        return f"fails on {len(names)} of {total} clusters: {shown}{more}"
    return ", ".join(
        f"{Status.label_of(status).lower()} on {count}"
        for status, count in sorted(statuses.items(), key=lambda kv: Status.order_of(kv[0]))
    )


def _fleet_item(rows: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    first = rows[0][1]
    statuses = Counter(row["status"] for _, row in rows)
    worst = min(statuses, key=Status.order_of)
    failing = [
        {
            "cluster": name,
            "affected_count": row["affected_count"],
            "summary": row["evidence_summary"],
            "evidence": row["evidence"],
        }
        for name, row in rows
        if row["status"] == Status.FAIL
    ]
    severities = [e["severity"] for f in failing for e in f["evidence"]]
    return {
        "id": first["id"],
        "section": first["section"],
        "title": first["title"],
        "evidence_class": first["evidence_class"],
        "status": worst,
        "status_label": Status.label_of(worst),
        "evidence_summary": _summary_line(failing, statuses, len(rows)),
        "affected_count": sum(f["affected_count"] for f in failing),
        "attestation": (
            f"attested on {statuses[Status.ATTESTED]} cluster(s)"
            if statuses[Status.ATTESTED]
            else ""
        ),
        "waiver": f"waived on {statuses[Status.WAIVED]} cluster(s)"
        if statuses[Status.WAIVED]
        else "",
        "checks": first["checks"],
        "clusters": dict(sorted(statuses.items(), key=lambda kv: Status.order_of(kv[0]))),
        "severity": max(severities, key=lambda s: SEVERITY_ORDER.get(s, 0), default=""),
        "failing": failing,
    }


def fleet_report(
    scope: Scope,
    *,
    generated_by: str,
    generated_at: datetime,
    progress: Callable[[int, str], None] | None = None,
) -> dict[str, Any]:
    clusters = fleet_clusters(scope)
    evaluations = history.evaluations_at(clusters, scope.cutoff)
    per_cluster: list[tuple[str, list[dict[str, Any]]]] = []
    cluster_rows = []
    distributions: Counter[str] = Counter()
    for index, cluster in enumerate(clusters):
        evaluation = evaluations.get(cluster.pk)
        items, distribution = cluster_items(scope.guide, cluster, evaluation)
        distributions[distribution] += 1
        per_cluster.append((cluster.name, items))
        cluster_rows.append(
            {
                "cluster": cluster.name,
                "environment": cluster.environment,
                **evaluation_summary(evaluation),
                "counts": counts([item["status"] for item in items]),
            }
        )
        if progress and index % 10 == 9:
            progress(10 + int(40 * (index + 1) / len(clusters)), f"{index + 1} clusters read")
    items = (
        [
            _fleet_item([(name, rows[index]) for name, rows in per_cluster])
            for index in range(len(scope.guide.items))
        ]
        if per_cluster
        else []
    )
    scores = [row["score"] for row in cluster_rows if row["score"] is not None]
    coverages = [row["coverage"] for row in cluster_rows if row["coverage"] is not None]
    catalogs = sorted({row["catalog_version"] for row in cluster_rows if row["catalog_version"]})
    failing = sorted(
        (item for item in items if item["status"] == Status.FAIL),
        key=lambda item: (
            len(item["failing"]),
            SEVERITY_ORDER.get(item["severity"], 0),
            item["affected_count"],
        ),
        reverse=True,
    )
    summary = {
        "clusters": len(clusters),
        "evaluated": len(evaluations),
        "score": round(statistics.fmean(scores), 1) if scores else None,
        "coverage": round(statistics.fmean(coverages), 1) if coverages else None,
        "counts": counts([item["status"] for _, rows in per_cluster for item in rows]),
        "item_counts": counts([item["status"] for item in items]),
        "total_items": len(scope.guide.items),
        "top_risks": [
            {
                "id": item["id"],
                "title": item["title"],
                "severity": item["severity"],
                "affected_count": item["affected_count"],
                "summary": item["evidence_summary"],
            }
            for item in failing[:TOP_RISKS]
        ],
        "trend": history.fleet_trend(scope),
    }
    data = {
        "cover": cover(
            scope,
            clusters=[cluster.name for cluster in clusters],
            generated_by=generated_by,
            generated_at=generated_at,
            catalog=", ".join(catalogs),
        ),
        "summary": summary,
        "cluster_rows": cluster_rows,
        "items": items,
        "attestations": history.attestations(scope, clusters),
        "waivers": history.waivers(scope, clusters),
        "changes": history.changes(scope, clusters, dict(evaluations)),
        "methodology": history.methodology(
            scope,
            evaluations={c.name: evaluations.get(c.pk) for c in clusters},
            distribution=distributions.most_common(1)[0][0] if distributions else "",
        ),
    }
    if progress:
        progress(60, "history read")
    return data
