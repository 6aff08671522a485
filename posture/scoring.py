"""The posture score: one formula, explainable check by check.

    weight(check)  = critical 10, high 6, medium 3, low 1, info 0
    judged checks  = checks whose effective status is pass, fail or waived
    score          = 100 * Σ weight(passing) / Σ weight(judged)          per area and overall
    coverage       = 100 * (number judged) / (number judged + unknown + error)
    contribution   = a failing check costs 100 * weight / Σ weight(judged) points

A check passes or fails as a whole: one privileged Deployment among a thousand is a failed
control, not 99.9 % (Kubescape's resource-ratio score hides exactly that). Unknown checks are left
out of the score and lower the coverage instead, so missing data can never raise the score and a
scan that saw nothing has no score at all (None), rather than Polaris' 100 on empty input.
Not-applicable checks count nowhere. A waived check counts as passing, and the waived weight is
reported next to the score so acceptance of risk is always visible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from posture.checks.base import REGISTRY, Area, Severity
from posture.status import UNJUDGED, WEIGHED, Status

WEIGHTS: dict[Severity, int] = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 6,
    Severity.MEDIUM: 3,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


@dataclass(frozen=True)
class Scored:
    """What scoring needs of one check's result."""

    check_id: str
    area: str
    severity: str
    status: str


def scored_verdict(check_id: str, status: str) -> Scored:
    """A stored verdict, weighed by its check's area and severity in the catalog.

    A check no longer in the catalog (renamed or removed since the collection) weighs nothing.
    """
    check = REGISTRY.get(check_id)
    if check is None:
        return Scored(check_id, "", Severity.INFO.value, status)
    return Scored(check_id, check.area.value, check.severity.value, status)


@dataclass
class Tally:
    earned: int = 0
    possible: int = 0
    waived: int = 0
    judged: int = 0
    unjudged: int = 0

    def add(self, item: Scored) -> None:
        weight = WEIGHTS[Severity(item.severity)]
        if item.status in WEIGHED:
            self.judged += 1
            self.possible += weight
            if item.status != Status.FAIL:
                self.earned += weight
            if item.status == Status.WAIVED:
                self.waived += weight
        elif item.status in UNJUDGED:
            self.unjudged += 1

    @property
    def score(self) -> float | None:
        if self.possible == 0:
            # Only info checks (or nothing) judged: nothing failed, but nothing to score either.
            return 100.0 if self.judged else None
        return round(100.0 * self.earned / self.possible, 1)

    @property
    def coverage(self) -> float:
        total = self.judged + self.unjudged
        return round(100.0 * self.judged / total, 1) if total else 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "score": self.score,
            "coverage": self.coverage,
            "earned": self.earned,
            "possible": self.possible,
            "waived": self.waived,
            "judged": self.judged,
            "unjudged": self.unjudged,
        }


@dataclass
class ScoreReport:
    overall: Tally = field(default_factory=Tally)
    areas: dict[str, Tally] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return self.overall.score

    @property
    def coverage(self) -> float:
        return self.overall.coverage

    def area_dict(self) -> dict[str, dict[str, float | int | None]]:
        return {area: tally.as_dict() for area, tally in self.areas.items()}

    def contribution(self, item: Scored) -> float:
        """Points this check costs the overall score (0 unless it fails)."""
        if item.status != Status.FAIL or not self.overall.possible:
            return 0.0
        return round(100.0 * WEIGHTS[Severity(item.severity)] / self.overall.possible, 2)


def score(items: Iterable[Scored]) -> ScoreReport:
    report = ScoreReport(areas={area.value: Tally() for area in Area})
    for item in items:
        report.overall.add(item)
        report.areas.setdefault(item.area, Tally()).add(item)
    return report
