"""Upgrading keeps every stored verdict: per-evaluation rows become shared result sets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("posture", "0002_finding")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_it_shares_identical_verdicts_and_keeps_each_evaluations_own() -> None:
    executor = _migrate(BEFORE)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        apps = executor.loader.project_state(BEFORE).apps
        Cluster = apps.get_model("clusters", "Cluster")
        Run = apps.get_model("clusters", "CollectionRun")
        Evaluation = apps.get_model("posture", "Evaluation")
        CheckResult = apps.get_model("posture", "CheckResult")
        cluster = Cluster.objects.create(name="old", source_kind="kubeconfig")
        verdicts: list[dict[str, tuple[str, list[dict[str, str]]]]] = [
            {"a.check": ("fail", [{"kind": "Pod", "name": "x"}]), "b.check": ("pass", [])},
            {"a.check": ("fail", [{"kind": "Pod", "name": "x"}]), "b.check": ("pass", [])},
            {"a.check": ("pass", []), "b.check": ("pass", [])},
        ]
        evaluation_ids = []
        for index, results in enumerate(verdicts):
            run = Run.objects.create(cluster=cluster, status="succeeded", trigger="schedule")
            evaluation = Evaluation.objects.create(
                run=run, cluster=cluster, created_at=timezone.now(), score=50.0 + index
            )
            evaluation_ids.append(evaluation.pk)
            for check_id, (status, affected) in results.items():
                CheckResult.objects.create(
                    evaluation=evaluation,
                    check_id=check_id,
                    status=status,
                    affected=affected,
                    affected_total=len(affected),
                )
    finally:
        _migrate(leaves)

    from posture.models import CheckResult as Result
    from posture.models import Evaluation as Current
    from posture.models import ResultSet

    first, second, third = (Current.objects.get(pk=pk) for pk in evaluation_ids)
    assert first.result_set_id == second.result_set_id != third.result_set_id
    assert ResultSet.objects.count() == 2
    assert Result.objects.count() == 3  # a.check twice (fail, pass), b.check once
    assert first.statuses == {"a.check": "fail", "b.check": "pass"}
    assert third.statuses == {"a.check": "pass", "b.check": "pass"}
    assert first.results.get(check_id="a.check").affected == [{"kind": "Pod", "name": "x"}]
