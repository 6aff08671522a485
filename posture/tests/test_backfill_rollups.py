"""Upgrades backfill rollups: days collected before rollups existed gain their cluster-days and
fleet-days, from the stored evaluations; a second run changes nothing; live rows are kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from clusters.tests.factories import make_cluster, make_evaluation
from posture.models import ClusterDay, FleetDay

FAIL = [{"check_id": "isolation.privileged", "status": "fail"}]
PASS = [{"check_id": "isolation.privileged", "status": "pass"}]


def noon(days_ago: int) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime(day.year, day.month, day.day, 12))


def history_before_rollups() -> dict[str, int]:
    """Two clusters collected on past days, stored as before rollups: evaluations only."""
    prod = make_cluster("prod-eu", environment="production")
    staging = make_cluster("staging-us", environment="staging")
    make_evaluation(prod, results=FAIL, created_at=noon(5), score_value=40.0)
    make_evaluation(prod, results=PASS, created_at=noon(5) + timedelta(hours=2), score_value=90.0)
    make_evaluation(prod, results=PASS, created_at=noon(3), score_value=80.0)
    make_evaluation(staging, results=FAIL, created_at=noon(3), score_value=20.0)
    make_evaluation(staging, results=PASS, created_at=noon(0), score_value=70.0)  # today: live
    ClusterDay.objects.all().delete()
    FleetDay.objects.all().delete()
    return {"prod": prod.pk, "staging": staging.pk}


def snapshot() -> list[tuple]:
    days = ClusterDay.objects.order_by("cluster_id", "day").values_list(
        "cluster_id", "day", "collections", "score", "lowest_score", "evaluation_id"
    )
    fleet = FleetDay.objects.order_by("day", "environment").values_list(
        "day", "environment", "clusters", "mean_score", "scored"
    )
    return [*days, *fleet]


@pytest.mark.django_db
def test_the_command_rolls_up_days_from_before_rollups_once() -> None:
    ids = history_before_rollups()
    out = StringIO()
    call_command("backfill_rollups", stdout=out)
    assert "Backfilled 3 cluster-days" in out.getvalue()

    day5 = ClusterDay.objects.get(cluster_id=ids["prod"], day=noon(5).date())
    assert (day5.collections, day5.score, day5.lowest_score) == (2, 90.0, 40.0)
    assert ClusterDay.objects.get(cluster_id=ids["staging"], day=noon(3).date()).score == 20.0
    assert not ClusterDay.objects.filter(day=timezone.localdate()).exists()  # live code's day
    fleet3 = FleetDay.objects.get(day=noon(3).date(), environment="")
    assert fleet3.clusters == 2 and fleet3.mean_score == 50.0
    assert FleetDay.objects.get(day=noon(4).date(), environment="").clusters == 1  # lookback
    assert FleetDay.objects.filter(day=noon(5).date(), environment="production").exists()

    before = snapshot()
    again = StringIO()
    call_command("backfill_rollups", stdout=again)
    assert "nothing to do" in again.getvalue()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_keeps_a_day_the_live_rollups_already_wrote() -> None:
    ids = history_before_rollups()
    ClusterDay.objects.create(cluster_id=ids["prod"], day=noon(3).date(), collections=7, score=12.0)
    call_command("backfill_rollups", stdout=StringIO())
    kept = ClusterDay.objects.get(cluster_id=ids["prod"], day=noon(3).date())
    assert (kept.collections, kept.score) == (7, 12.0)
    assert ClusterDay.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_migration_backfills_with_its_own_models() -> None:
    history_before_rollups()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("posture", "0011_judging_fingerprint")])
    try:
        assert not ClusterDay.objects.exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
    assert ClusterDay.objects.count() == 3
    assert FleetDay.objects.filter(environment="").count() >= 5
