"""What is a regression: pure detection over two snapshots, a run history or an age."""

from __future__ import annotations

from alerts.regressions import (
    Kind,
    OpenedFinding,
    OpenedFindings,
    Regression,
    RunOutcome,
    Snapshot,
    detect_evaluation,
    detect_failing_streak,
    detect_stale,
)

BEFORE = Snapshot(1, 80.0, 90.0, {"priv": "fail", "tags": "fail", "admin": "pass", "rbac": "pass"})


def finding(
    check_id: str, severity: str, name: str = "api", *, reopened: bool = False, total: int = 1
) -> OpenedFindings:
    sample = (OpenedFinding("Deployment", "web", name, 'container "x"'),)
    return OpenedFindings(check_id, severity, reopened, total, sample)


def detect(
    current: Snapshot,
    *opened: OpenedFindings,
    previous: Snapshot | None = BEFORE,
    min_severity: str = "high",
    score_drop: float = 5,
    cluster_severity: str = "high",
) -> list:
    return detect_evaluation(
        cluster_id=7,
        cluster_name="prod",
        previous=previous,
        current=current,
        opened=opened,
        check_titles={"priv": "Privileged containers"},
        min_severity=min_severity,
        score_drop=score_drop,
        cluster_severity=cluster_severity,
    )


def same_as_before(**changes: object) -> Snapshot:
    fields = {
        "evaluation_id": 2,
        "score": 80.0,
        "coverage": 90.0,
        "statuses": BEFORE.statuses,
        **changes,
    }
    return Snapshot(**fields)  # type: ignore[arg-type]


def test_it_reports_new_and_reopened_findings_at_or_above_the_threshold() -> None:
    found = detect(
        same_as_before(),
        finding("priv", "high", "api"),
        finding("priv", "high", "db", reopened=True),
        finding("tags", "low"),
    )
    assert [(r.kind, r.check_id, r.evidence_total) for r in found] == [
        (Kind.NEW_FINDINGS, "priv", 1),
        (Kind.REOPENED_FINDINGS, "priv", 1),
    ]
    assert found[0].title == "1 new high finding(s): Privileged containers"
    assert found[0].check_title == "Privileged containers"
    assert found[0].evidence[0]["name"] == "api"
    assert found[0].dedup_key == "cluster:7:evaluation:2:new_findings:priv"
    assert not found[0].now_failing


def test_it_ignores_findings_below_the_threshold() -> None:
    assert detect(same_as_before(), finding("priv", "high"), min_severity="critical") == []


def test_it_marks_the_findings_of_a_check_that_passed_and_now_fails() -> None:
    statuses = {**BEFORE.statuses, "admin": "fail"}
    found = detect(
        same_as_before(statuses=statuses),
        finding("admin", "critical", total=3),
        finding("admin", "critical", reopened=True),
        score_drop=50,
    )
    assert [(r.kind, r.check_id, r.evidence_total, r.now_failing) for r in found] == [
        (Kind.NEW_FINDINGS, "admin", 3, True),
        (Kind.REOPENED_FINDINGS, "admin", 1, True),
    ]
    assert "it passed in the previous collection" in found[0].summary


def test_it_holds_a_check_now_failing_to_the_severity_floor_too() -> None:
    statuses = {**BEFORE.statuses, "admin": "fail"}
    assert detect(same_as_before(statuses=statuses), finding("admin", "low")) == []


def test_it_reports_a_score_drop_of_at_least_n_points() -> None:
    assert detect(same_as_before(score=75.1)) == []
    [drop] = detect(same_as_before(score=75.0), cluster_severity="critical")
    assert drop.kind == Kind.SCORE_DROP and "80.0 to 75.0" in drop.title
    assert drop.severity == "critical"  # the configured cluster severity


def test_it_reports_new_permission_errors_as_a_coverage_drop() -> None:
    statuses = {**BEFORE.statuses, "rbac": "unknown"}
    [drop] = detect(
        same_as_before(
            coverage=70.0, statuses=statuses, unreadable={"clusterrolebindings": "403 Forbidden"}
        )
    )
    assert drop.kind == Kind.COVERAGE_DROP and "rbac" in drop.summary
    assert drop.evidence[0] == {
        "kind": "clusterrolebindings",
        "namespace": "",
        "name": "",
        "detail": "403 Forbidden",
    }
    still_forbidden = Snapshot(3, 80.0, 70.0, statuses, {"clusterrolebindings": "403"})
    before = same_as_before(unreadable={"clusterrolebindings": "x"})
    assert detect(still_forbidden, previous=before) == []


def test_it_treats_the_first_evaluation_as_a_baseline() -> None:
    assert detect(same_as_before(), finding("priv", "critical"), previous=None) == []


def test_it_reports_one_regression_per_streak_of_failed_collections() -> None:
    def detect_streak(runs: list[RunOutcome]) -> Regression | None:
        return detect_failing_streak(
            cluster_id=7, cluster_name="prod", runs=runs, threshold=3, severity="high"
        )

    history = [
        RunOutcome(9, "failed", "unreachable"),
        RunOutcome(8, "failed", "unreachable"),
        RunOutcome(7, "succeeded"),
    ]
    assert detect_streak(history) is None
    third = detect_streak([RunOutcome(10, "failed", "401 Unauthorized"), *history])
    fourth = detect_streak([RunOutcome(11, "failed"), RunOutcome(10, "failed"), *history])
    assert third is not None and fourth is not None
    assert third.kind == Kind.COLLECTIONS_FAILING and third.evidence_total == 3
    assert "401 Unauthorized" in third.summary
    # The same streak keeps its key: the fourth failure does not email again.
    assert third.dedup_key == fourth.dedup_key == "cluster:7:failed-runs-since:8"


def test_it_reports_stale_data_once_per_evaluation() -> None:
    def stale(evaluation_id: int | None, age_hours: float | None) -> Regression | None:
        return detect_stale(
            cluster_id=7,
            cluster_name="prod",
            evaluation_id=evaluation_id,
            age_hours=age_hours,
            threshold_hours=24,
            severity="high",
        )

    assert stale(3, 5) is None
    found = stale(3, 30)
    assert found is not None and found.dedup_key == "cluster:7:stale-since-evaluation:3"
    assert found.severity == "high"
    never = stale(None, None)
    assert never is not None and "never" in never.summary
