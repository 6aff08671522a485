"""History grows with change: shared verdicts, daily rollups, and retention that keeps them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from alerts.tests.conftest import upload, write_bundle
from clusters.models import Cluster, CollectionRun
from clusters.services import cluster_register
from history.services import history_prune
from pipeline.collection import collection_execute
from posture.models import CheckResult, ClusterDay, Evaluation, Finding, FleetDay, ResultSet
from posture.rollups import fleet_day_refresh

pytestmark = pytest.mark.django_db


def collect(cluster: Cluster, bundle: Path) -> Evaluation:
    finished = collection_execute(run_id=upload(cluster, bundle).pk)
    assert finished is not None and finished.status != CollectionRun.Status.FAILED
    return finished.evaluation


@pytest.fixture
def shop(tmp_path: Path) -> Cluster:
    cluster = cluster_register(
        name="shop", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=write_bundle(tmp_path / "b")
    )
    assert collection_execute(run_id=cluster.runs.get().pk) is not None
    return cluster


def test_an_unchanged_cluster_collected_again_adds_no_verdict_rows(
    shop: Cluster, tmp_path: Path
) -> None:
    first = Evaluation.objects.get(cluster=shop)
    results, sets = CheckResult.objects.count(), ResultSet.objects.count()

    second = collect(shop, write_bundle(tmp_path / "same"))

    assert (CheckResult.objects.count(), ResultSet.objects.count()) == (results, sets)
    assert second.result_set_id == first.result_set_id
    assert second.statuses == first.statuses and second.results.count() == len(first.statuses)


def test_a_change_adds_rows_for_the_changed_checks_only(shop: Cluster, tmp_path: Path) -> None:
    first = Evaluation.objects.get(cluster=shop)
    results = CheckResult.objects.count()

    changed = collect(shop, write_bundle(tmp_path / "fixed", privileged=False))

    assert changed.result_set_id != first.result_set_id
    added = CheckResult.objects.count() - results
    differing = [c for c, s in changed.statuses.items() if first.statuses.get(c) != s]
    assert differing and 0 < added < len(first.statuses) / 4
    assert changed.statuses["isolation.privileged"] == "pass"
    # The earlier evaluation still reads its own verdicts.
    assert first.results.get(check_id="isolation.privileged").status == "fail"


def test_each_day_rolls_up_the_days_collections(shop: Cluster, tmp_path: Path) -> None:
    collect(shop, write_bundle(tmp_path / "fixed", privileged=False))
    latest = Evaluation.objects.filter(cluster=shop).first()
    assert latest is not None

    day = ClusterDay.objects.get(cluster=shop)
    assert day.collections == 2 and day.evaluation == latest
    assert day.score == latest.score and day.lowest_score is not None
    assert day.lowest_score <= day.score  # type: ignore[operator]
    assert day.open_findings == latest.open_findings
    assert sum(latest.open_findings.values()) == Finding.objects.open().count()
    assert day.opened == Finding.objects.count() and day.resolved >= 1
    assert day.kubernetes_version == latest.run.kubernetes_version

    fleet = fleet_day_refresh(day=day.day)
    assert (fleet.clusters, fleet.scored, fleet.mean_score) == (1, 1, day.score)
    assert sum(fleet.distribution.values()) == 1
    assert fleet.opened == day.opened and fleet.open_findings == day.open_findings


def test_retention_keeps_rollups_and_the_latest_collection(shop: Cluster, tmp_path: Path) -> None:
    old_run = shop.runs.get()
    old_evaluation = old_run.evaluation
    collect(shop, write_bundle(tmp_path / "fixed", privileged=False))
    latest_evaluation = Evaluation.objects.filter(cluster=shop).first()
    assert latest_evaluation is not None and latest_evaluation != old_evaluation
    # Back-date the first collection and its day past the detail window.
    long_ago = timezone.now() - timedelta(days=120)
    CollectionRun.objects.filter(pk=old_run.pk).update(created_at=long_ago)
    Evaluation.objects.filter(pk=old_evaluation.pk).update(created_at=long_ago)
    ClusterDay.objects.create(cluster=shop, day=long_ago.date(), evaluation=old_evaluation)
    old_bundle = old_run.bundle.name or ""
    results_before = CheckResult.objects.count()

    pruned = history_prune(detail_days=90, daily_days=0)

    assert pruned.runs == 1 and pruned.result_sets == 1 and pruned.results >= 1
    assert not CollectionRun.objects.filter(pk=old_run.pk).exists()
    assert CheckResult.objects.count() == results_before - pruned.results
    shop.refresh_from_db()
    assert shop.latest_evaluation == latest_evaluation
    assert latest_evaluation.results.count() == len(latest_evaluation.statuses)
    # The rollups survive; the pruned day no longer links to its evaluation.
    assert ClusterDay.objects.filter(cluster=shop).count() == 2
    assert ClusterDay.objects.get(day=long_ago.date()).evaluation is None
    # Findings first seen in the pruned collection keep their dates.
    assert Finding.objects.filter(first_seen_evaluation__isnull=True).exists()
    assert (
        not default_storage.exists(old_bundle)
        or CollectionRun.objects.filter(bundle=old_bundle).exists()
    )
    assert history_prune(detail_days=90, daily_days=0).runs == 0  # idempotent


def test_rollup_retention_is_separate_and_optional(shop: Cluster) -> None:
    day = ClusterDay.objects.get(cluster=shop)
    FleetDay.objects.create(day=day.day - timedelta(days=400), refreshed_at=timezone.now())
    ClusterDay.objects.create(cluster=shop, day=day.day - timedelta(days=400))

    assert history_prune(daily_days=0).days == 0
    assert history_prune(daily_days=365).days == 1
    assert list(ClusterDay.objects.values_list("day", flat=True)) == [day.day]
    assert not FleetDay.objects.filter(day__lt=day.day).exists()


def test_the_latest_collection_is_kept_however_old(shop: Cluster) -> None:
    run = shop.runs.get()
    CollectionRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=999))

    assert history_prune(detail_days=1).runs == 0
    assert Evaluation.objects.filter(cluster=shop).count() == 1
