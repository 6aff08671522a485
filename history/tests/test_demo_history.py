"""`load_demo` gives the demo fleet a history whose trends tell a story, ending on the bundles.

The story is loaded once for the class (two weeks, as `--history-days 14`, to keep it quick),
then each registration's queued collection is run as the worker would, alerts sent inline.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from io import StringIO
from pathlib import Path

import orjson
import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from alerts.models import Notification
from clusters.bundles import read_bundle
from clusters.models import Cluster, CollectionRun
from compliance.models import AuditEvent, Waiver
from pipeline.collection import collection_execute
from pipeline.demo import STORIES, demo_variant
from posture.models import ClusterDay, Finding, FleetDay

DAYS = 14
BUNDLES = Path(__file__).resolve().parents[2] / "demo" / "bundles"
DEMO_CLUSTERS = ("payments-prod", "storefront-staging", "edge-dev")


def _load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def _collect_queued() -> None:
    """What the worker does with each registration's queued collection."""
    for run in CollectionRun.objects.filter(status=CollectionRun.Status.PENDING):
        collection_execute(run_id=run.pk, send_alerts_inline=True)


def _days(name: str) -> list[ClusterDay]:
    return list(ClusterDay.objects.filter(cluster__name=name).order_by("day"))


def _scores(name: str) -> list[float]:
    scores = [row.score for row in _days(name)]
    assert None not in scores, f"{name} has a day without a score"
    return [score for score in scores if score is not None]


@pytest.fixture(scope="class")
def demo_fleet(django_db_setup, django_db_blocker):
    """The demo fleet with two weeks of history, rolled back after the class."""
    with django_db_blocker.unblock(), transaction.atomic():
        mail.outbox = []
        output = _load_demo("--history-days", str(DAYS))
        _collect_queued()
        # Each test's mail outbox starts empty: count what loading sent while it is known.
        yield {"output": output, "emails": len(mail.outbox)}
        transaction.set_rollback(True)


@pytest.mark.usefixtures("db")
class TestDemoFleet:
    def test_it_gives_every_demo_cluster_a_day_for_each_day_of_history(self, demo_fleet):
        today = timezone.localdate()
        for name in DEMO_CLUSTERS:
            days = [row.day for row in _days(name)]
            assert days == [today - timedelta(days=age) for age in range(DAYS, -1, -1)], name
        assert f"since {today - timedelta(days=DAYS)}" in demo_fleet["output"]

    def test_it_shows_production_climbing_and_staging_drifting_down(self, demo_fleet):
        payments, storefront, edge = (_scores(name) for name in DEMO_CLUSTERS)
        assert payments[0] < payments[-1]
        assert len(set(payments)) >= 3
        assert storefront[0] > storefront[-1] + 10
        assert abs(edge[0] - edge[-1]) < 5, "edge-dev stays roughly flat"
        assert all(row.coverage < 80 for row in _days("edge-dev")), "its RBAC stays unreadable"

    def test_it_resolves_findings_and_reopens_one_on_payments_prod(self, demo_fleet):
        findings = Finding.objects.filter(cluster__name="payments-prod")
        assert findings.filter(status=Finding.Status.RESOLVED).exists()
        reopened = findings.filter(times_reopened__gt=0)
        assert reopened.filter(kind="Pod", name="netshoot-debug").exists()
        assert all(finding.status == Finding.Status.RESOLVED for finding in reopened)

    def test_it_opens_no_finding_for_the_rolled_out_deployment(self, demo_fleet):
        findings = list(
            Finding.objects.filter(
                cluster__name="payments-prod", kind="Deployment", name="reconciler"
            )
        )
        assert findings, "the privileged reconciler fails checks throughout"
        first = min(finding.first_seen_at for finding in findings)
        assert timezone.localdate(first) == timezone.localdate() - timedelta(days=DAYS)
        for finding in findings:
            assert finding.first_seen_at == first, finding.check_id
            assert finding.status == Finding.Status.OPEN and finding.times_reopened == 0

    def test_it_records_the_kubernetes_upgrades(self, demo_fleet):
        versions = [
            row.kubernetes_version for row in _days("payments-prod") if row.kubernetes_version
        ]
        assert versions[0] == "v1.34.1-gke.1389000"
        assert versions[-1] == "v1.35.2-gke.1234000"
        assert "v1.34.6-gke.1125000" in versions
        assert "v1.34.1-gke.1389000 -> v1.34.6-gke.1125000 -> v1.35.2" in demo_fleet["output"]

    def test_it_ends_on_each_bundles_own_posture(self, demo_fleet):
        for name in DEMO_CLUSTERS:
            cluster = Cluster.objects.select_related("latest_run", "latest_evaluation").get(
                name=name
            )
            run, evaluation = cluster.latest_run, cluster.latest_evaluation
            assert run is not None and run.trigger == CollectionRun.Trigger.REGISTRATION
            assert evaluation is not None and evaluation.run_id == run.pk
            expected = orjson.loads((BUNDLES / name / "EXPECTED.json").read_bytes())
            results = {result.check_id: result for result in evaluation.results.all()}
            for check_id, objects in expected["fail"].items():
                assert results[check_id].status == "fail", f"{name}: {check_id}"
                affected = {
                    (item["kind"], item["namespace"], item["name"])
                    for item in results[check_id].affected
                }
                for item in objects:
                    assert (item["kind"], item["namespace"], item["name"]) in affected
            for check_id in expected["unknown"]:
                assert results[check_id].status == "unknown", f"{name}: {check_id}"
            today = _days(name)[-1]
            assert (today.opened, today.resolved) == (0, 0), f"{name} changed at its collection"

    def test_it_alerts_nobody(self, demo_fleet):
        assert demo_fleet["emails"] == 0
        assert not Notification.objects.exists()

    def test_it_rolls_up_the_fleet_for_every_day(self, demo_fleet):
        today = timezone.localdate()
        days = list(FleetDay.objects.filter(environment="").order_by("day"))
        assert [row.day for row in days] == [
            today - timedelta(days=age) for age in range(DAYS, -1, -1)
        ]
        assert all(row.clusters == 3 for row in days)
        production = FleetDay.objects.filter(environment="production", day=today).get()
        assert production.clusters == Cluster.objects.filter(environment="production").count()

    def test_it_waives_the_public_checkout_until_next_week(self, demo_fleet):
        waiver = Waiver.objects.get(cluster__name="payments-prod")
        now = timezone.now()
        assert waiver.state(now=now) == Waiver.State.ACTIVE
        assert waiver.check_id == "network.exposed_services"
        assert waiver.approved_at is not None and waiver.approved_at < now - timedelta(days=3)
        assert timedelta(days=4) < waiver.expires_at - now <= timedelta(days=6)
        requester, approver = waiver.requested_by, waiver.approved_by
        assert requester is not None and requester.username == "demo-engineer"
        assert approver is not None and approver.username == "demo-approver"
        assert not approver.has_usable_password()
        actions = AuditEvent.objects.filter(object_id=str(waiver.pk)).values_list("action", "at")
        assert dict(actions) == {
            "waiver.request": waiver.requested_at,
            "waiver.approve": waiver.approved_at,
        }
        evaluation = waiver.cluster.latest_evaluation
        assert evaluation is not None
        result = evaluation.results.get(check_id=waiver.check_id)
        assert result.status == "fail"  # the verdict stays; only the score counts it waived

    def test_it_adds_no_history_when_run_again(self, demo_fleet):
        runs, findings = CollectionRun.objects.count(), Finding.objects.count()
        output = _load_demo("--history-days", str(DAYS))
        assert "payments-prod is already registered" in output
        assert "no history added: payments-prod already has history" in output
        assert (CollectionRun.objects.count(), Finding.objects.count()) == (runs, findings)
        assert not CollectionRun.objects.filter(status=CollectionRun.Status.PENDING).exists()


def test_it_loads_without_history_when_asked(db):
    output = _load_demo("--history-days", "0")
    assert "Registered payments-prod; its collection is queued" in output
    assert "back-dated" not in output
    assert CollectionRun.objects.count() == 3
    assert not ClusterDay.objects.exists() and not FleetDay.objects.exists()


def test_it_leaves_a_cluster_collected_before_history_alone(db):
    _load_demo("--history-days", "0")
    _collect_queued()
    output = _load_demo("--history-days", "3")
    assert "edge-dev was collected before demo history existed" in output
    assert CollectionRun.objects.count() == 3


def test_it_builds_variants_without_touching_the_bundle():
    bundle = read_bundle(BUNDLES / "payments-prod")
    before = copy.deepcopy(bundle.objects), copy.deepcopy(bundle.version)
    story = STORIES["payments-prod"]
    oldest = demo_variant(story=story, inventory=bundle, age=DAYS, days=DAYS)
    assert (bundle.objects, bundle.version) == before
    assert oldest.git_version == "v1.34.1-gke.1389000"
    pods = [pod["metadata"]["name"] for pod in oldest.items("pods")]
    assert "netshoot-debug" in pods
    assert [name for name in pods if name.startswith("reconciler-")] == [
        name for name in pods if name.startswith("reconciler-qgwcwrsvx7-")
    ]
    assert not any(
        rs["metadata"]["name"] == "reconciler-xpg6rnvjwc" for rs in oldest.items("replicasets")
    )
    newest = demo_variant(story=story, inventory=bundle, age=1, days=DAYS)
    assert newest.objects == bundle.objects and newest.version == bundle.version
