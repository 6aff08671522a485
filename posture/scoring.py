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

A score from too little data (`too_little_data`: coverage under 20 %, or fewer than 3 judged
checks) is still stored and shown, but marked "too little data": one judged check at 5 %
coverage scoring 0.0 says almost nothing about the area. Pages show the coverage beside every
score for the same reason. `score_grade` is the one colour scale of a score (0-9, 10 points a
step), so 27 and 59 no longer wear the same red.
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


# Below either, a score is shown as "too little data" (the number stays, muted).
MIN_COVERAGE = 20.0
MIN_JUDGED = 3


def too_little_data(*, coverage: float | None, judged: int | None) -> bool:
    """Whether a score rests on too little evidence to be read as a posture."""
    return (coverage or 0.0) < MIN_COVERAGE or (judged or 0) < MIN_JUDGED


def score_grade(score: float | None) -> str:
    """The colour step of a score: "0" (under 10) to "9" (90 and above), "none" without one."""
    if score is None:
        return "none"
    return str(min(9, max(0, int(score // 10))))


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
