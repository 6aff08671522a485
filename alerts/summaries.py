"""What one email says: the regressions of one occasion for one recipient, grouped into the
sections people read, and a subject that sums them up. Pure: no database, no settings.

    findings     every new or reopened finding, grouped by check, most severe first, each with
                 its owning workload; "now failing" when the check passed the collection before
    cluster      score drop, coverage drop, failing or stale collections
    governance   waivers and attestations expiring or expired

The payload is what a Notification keeps (JSON) and its templates render at send time; links
stay site-relative here, and messages.py makes them absolute from SITE_URL. A daily digest is
the same payloads grouped by cluster, then by occasion (`digest_summary`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from alerts.regressions import (
    CLUSTER_KINDS,
    FINDING_KINDS,
    GOVERNANCE_KINDS,
    Kind,
    Occasion,
    Regression,
    rank,
)

PAYLOAD_FORMAT = 2
SUBJECT_PREFIX = "[Rampart]"
SUBJECT_MAX = 250  # Notification.subject
DIGEST_CLUSTERS_NAMED = 3

_GOVERNANCE_PHRASES = {
    Kind.WAIVER_EXPIRING: ("waiver expires soon", "waivers expire soon"),
    Kind.WAIVER_EXPIRED: ("waiver expired", "waivers expired"),
    Kind.ATTESTATION_EXPIRING: (
        "attestation is due for renewal",
        "attestations are due for renewal",
    ),
    Kind.ATTESTATION_EXPIRED: ("attestation lapsed", "attestations lapsed"),
}


def summary_payload(occasion: Occasion, regressions: Sequence[Regression]) -> dict[str, Any]:
    """The email of `occasion` to one recipient, who is to hear of `regressions`."""
    findings = finding_blocks(r for r in regressions if r.kind in FINDING_KINDS)
    counts: dict[str, Counter[str]] = {"new": Counter(), "reopened": Counter()}
    for block in findings:
        counts["new"][block["severity"]] += block["new"]
        counts["reopened"][block["severity"]] += block["reopened"]
    payload: dict[str, Any] = {
        "format": PAYLOAD_FORMAT,
        "kind": occasion.kind.value,
        "kind_label": occasion.kind.label,
        "cluster": occasion.cluster_name,
        "at": occasion.at.isoformat() if occasion.at else "",
        "score": list(occasion.score),
        "coverage": list(occasion.coverage),
        "evaluations": list(occasion.evaluations) if occasion.evaluations else None,
        "severity": max((r.severity for r in regressions), key=rank, default=""),
        "counts": {word: _by_severity(counted) for word, counted in counts.items()},
        "findings": findings,
        "cluster_alerts": [r.as_payload() for r in regressions if r.kind in CLUSTER_KINDS],
        "governance": [r.as_payload() for r in regressions if r.kind in GOVERNANCE_KINDS],
    }
    payload["headline"] = headline(payload)
    return payload


def subject(payload: dict[str, Any]) -> str:
    return _clip(f"{SUBJECT_PREFIX} {payload['cluster']}: {payload['headline']}")


def finding_blocks(regressions: Iterable[Regression]) -> list[dict[str, Any]]:
    """One block per check: its new and reopened objects together, most severe check first."""
    blocks: dict[str, dict[str, Any]] = {}
    for regression in regressions:
        block = blocks.setdefault(
            regression.check_id,
            {
                "check_id": regression.check_id,
                "check_title": regression.check_title or regression.check_id,
                "severity": regression.severity,
                "now_failing": False,
                "new": 0,
                "reopened": 0,
                "objects": [],
                "more": 0,
            },
        )
        reopened = regression.kind is Kind.REOPENED_FINDINGS
        block["now_failing"] = block["now_failing"] or regression.now_failing
        if rank(regression.severity) > rank(block["severity"]):
            block["severity"] = regression.severity
        block["reopened" if reopened else "new"] += regression.evidence_total
        block["objects"] += [
            {**item, "workload": workload(item), "reopened": reopened}
            for item in regression.evidence
        ]
        block["more"] += max(0, regression.evidence_total - len(regression.evidence))
    return sorted(
        blocks.values(), key=lambda b: (-rank(b["severity"]), b["check_title"].casefold())
    )


def workload(item: dict[str, str]) -> str:
    """ "Deployment web/api", "ClusterRoleBinding oncall-admin"; "" for a check failing as a
    whole (a finding that names no object)."""
    name = "/".join(part for part in (item.get("namespace", ""), item.get("name", "")) if part)
    return " ".join(part for part in (item.get("kind", ""), name) if part)


def headline(payload: dict[str, Any]) -> str:
    """What changed, in one line: the score, the findings by severity, then everything else."""
    parts = []
    before, after = payload.get("score") or (None, None)
    score_moved = before is not None and after is not None and f"{before:.1f}" != f"{after:.1f}"
    if score_moved:
        parts.append(f"score {before:.1f} → {after:.1f}")
    counted = [
        findings_phrase(word, payload["counts"][word])
        for word in ("new", "reopened")
        if payload["counts"][word]
    ]
    if counted and len(payload["findings"]) == 1:
        counted[-1] += f": {payload['findings'][0]['check_title']}"  # one check: name it
    parts += counted
    for alert in payload["cluster_alerts"]:
        if alert["kind"] == Kind.SCORE_DROP and score_moved:
            continue  # said already, first
        parts.append(alert["title"])
    governance = payload["governance"]
    if len(governance) == 1:
        parts.append(governance[0]["title"])
    elif governance:
        parts.append(governance_phrase(Counter(Kind(item["kind"]) for item in governance)))
    return ", ".join(parts)


def findings_phrase(word: str, by_severity: dict[str, int]) -> str:
    """ "1 new high finding", "3 new findings (1 critical, 2 high)"."""
    total = sum(by_severity.values())
    noun = "finding" if total == 1 else "findings"
    if len(by_severity) == 1:
        [severity] = by_severity
        return f"{total} {word} {severity} {noun}"
    detail = ", ".join(f"{count} {severity}" for severity, count in by_severity.items())
    return f"{total} {word} {noun} ({detail})"


def governance_phrase(counted: Counter[Kind]) -> str:
    """ "2 waivers expire soon, 1 attestation lapsed"."""
    return ", ".join(
        f"{counted[kind]} {_GOVERNANCE_PHRASES[kind][counted[kind] != 1]}"
        for kind in _GOVERNANCE_PHRASES
        if counted[kind]
    )


def digest_summary(payloads: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A day's payloads for one recipient: the subject, and the payloads grouped by cluster
    (alphabetically), each cluster's in the order they happened."""
    clusters: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        clusters.setdefault(payload["cluster"], []).append(payload)
    grouped = [
        {"cluster": name, "occasions": occasions} for name, occasions in sorted(clusters.items())
    ]
    counts: dict[str, Counter[str]] = {"new": Counter(), "reopened": Counter()}
    others = 0
    for payload in payloads:
        for word in counts:
            counts[word].update(payload["counts"][word])
        others += len(payload["cluster_alerts"]) + len(payload["governance"])
    parts = [findings_phrase(word, _by_severity(c)) for word, c in counts.items() if c]
    if others:
        noun = "alert" if others == 1 else "alerts"
        parts.append(f"{others} {'other ' if parts else ''}{noun}")
    names = ", ".join(sorted(clusters)[:DIGEST_CLUSTERS_NAMED])
    if len(clusters) > DIGEST_CLUSTERS_NAMED:
        names += f" and {len(clusters) - DIGEST_CLUSTERS_NAMED} more"
    return _clip(f"{SUBJECT_PREFIX} Daily digest for {names}: {', '.join(parts)}"), grouped


def _by_severity(counted: Counter[str]) -> dict[str, int]:
    """Most severe first, zeros left out: the order phrases and tables show."""
    return {
        severity: count
        for severity, count in sorted(counted.items(), key=lambda item: -rank(item[0]))
        if count
    }


def _clip(text: str) -> str:
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"
