"""The fleet page leads: a summary band, graded scores, change since the previous collection,
honest run states and scores marked when they rest on too little data."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.models import Cluster, CollectionRun
from clusters.tests.factories import make_cluster, make_evaluation, make_run
from posture.scoring import score_grade, too_little_data

pytestmark = pytest.mark.django_db
FLEET = reverse("fleet")


def _judged(count, status="pass"):
    return [{"check_id": f"c{i}", "status": status} for i in range(count)]


def test_it_summarises_the_whole_fleet_above_the_table(auditor):
    for name, score in [("a", 95.0), ("b", 72.0), ("c", 59.0), ("d", 27.0), ("e", 31.0)]:
        make_evaluation(make_cluster(name), score_value=score)
    make_cluster("never")
    critical = make_cluster("miner")
    evaluation = make_evaluation(critical, score_value=40.0)
    type(evaluation).objects.filter(pk=evaluation.pk).update(open_findings={"critical": 2})
    failing = make_cluster("broken")
    make_evaluation(failing, score_value=80.0)
    make_run(failing, status=CollectionRun.Status.FAILED)
    retrying = make_cluster("flaky")
    make_evaluation(retrying, score_value=80.0, created_at=timezone.now() - timedelta(days=3))
    make_run(retrying, status=CollectionRun.Status.PENDING, attempts=1, last_error="unreachable")

    response = auditor.get(FLEET, {"q": "a"})  # the band ignores the table's filters

    summary = response.context["summary"]
    assert summary["total"] == 9
    assert summary["unscored"] == 1
    assert [(b["label"], b["count"]) for b in summary["distribution"]] == [
        ("90-100", 1),
        ("70-89", 3),
        ("50-69", 1),
        ("30-49", 2),
        ("0-29", 1),
    ]
    assert summary["critical"] == 1
    assert summary["failing"] == 2
    # Live and scheduled, no collection for over a day (flaky) or never (never).
    assert summary["stale"] == 2
    body = response.content.decode()
    assert "Failing critical checks" in body and "Stale data" in body


def test_it_answers_the_summary_in_one_query(auditor, django_assert_num_queries):
    from posture.views.fleet import fleet_summary

    for index in range(5):
        make_evaluation(make_cluster(f"c{index}"), score_value=10.0 * index)

    with django_assert_num_queries(1):
        fleet_summary()


def test_it_grades_scores_so_27_and_59_differ(auditor):
    make_evaluation(make_cluster("low"), score_value=27.0, results=_judged(5))
    make_evaluation(make_cluster("mid"), score_value=59.0, results=_judged(5))

    body = auditor.get(FLEET).content.decode()

    assert 'grade-2">27.0' in body
    assert 'grade-5">59.0' in body
    assert [score_grade(s) for s in (None, 0.0, 9.9, 27.0, 59.0, 89.9, 90.0, 100.0)] == [
        "none",
        "0",
        "0",
        "2",
        "5",
        "8",
        "9",
        "9",
    ]


def test_it_falls_back_to_the_change_since_the_previous_collection(auditor):
    cluster = make_cluster("prod-eu")
    make_evaluation(cluster, score_value=58.0, created_at=timezone.now() - timedelta(hours=6))
    make_evaluation(cluster, score_value=27.0)

    response = auditor.get(FLEET)

    (row,) = response.context["rows"]
    assert row["change"] == "▼ -31.0"
    assert row["change_basis"] == "since the previous collection"
    assert "since the previous collection" in response.content.decode()


def test_it_prefers_the_week_old_score_and_says_nothing_more(auditor):
    cluster = make_cluster("prod-eu")
    make_evaluation(cluster, score_value=90.0, created_at=timezone.now() - timedelta(days=8))
    make_evaluation(cluster, score_value=70.0, created_at=timezone.now() - timedelta(days=1))
    make_evaluation(cluster, score_value=80.0)

    (row,) = auditor.get(FLEET).context["rows"]

    assert row["change"] == "▼ -10.0"
    assert row["change_basis"] == ""


def test_a_failed_run_that_will_retry_is_not_shown_as_pending(auditor):
    cluster = make_cluster("flaky")
    make_run(cluster, status=CollectionRun.Status.PENDING, attempts=1, last_error="timed out")
    make_run(make_cluster("queued"), status=CollectionRun.Status.PENDING)

    rows = {row["name"]: row for row in auditor.get(FLEET).context["rows"]}

    assert (rows["flaky"]["run_status"], rows["flaky"]["run_label"]) == (
        "retrying",
        "Failed, will retry",
    )
    assert rows["queued"]["run_label"] == "Pending"
    history = auditor.get(reverse("cluster_detail", args=["flaky"])).content.decode()
    assert "Failed, will retry" in history


def test_it_marks_a_score_from_too_little_data(auditor):
    make_evaluation(make_cluster("thin"), score_value=0.0, coverage=5.0, results=_judged(1, "fail"))
    make_evaluation(make_cluster("solid"), score_value=80.0, coverage=90.0, results=_judged(12))

    rows = {row["name"]: row for row in auditor.get(FLEET).context["rows"]}

    assert rows["thin"]["too_little_data"] is True
    assert rows["solid"]["too_little_data"] is False
    assert too_little_data(coverage=19.9, judged=10) and too_little_data(coverage=90, judged=2)
    assert not too_little_data(coverage=20.0, judged=3)


def test_the_cluster_page_shows_coverage_and_too_little_data_beside_area_scores(
    auditor, known_checks
):
    cluster = make_cluster("prod-eu")
    make_evaluation(
        cluster,
        results=[
            {"check_id": "test.cluster-admin-bindings", "status": "fail"},
            {"check_id": "test.default-deny", "status": "unknown"},
        ],
    )

    response = auditor.get(reverse("cluster_detail", args=["prod-eu"]))

    access = next(a for a in response.context["areas"] if a["key"] == "access")
    assert access["tally"]["judged"] == 1
    assert access["too_little_data"] is True
    body = response.content.decode()
    assert "too little data" in body
    assert "fewer than 3 judged checks" in body


def test_the_cluster_page_links_to_its_other_pages(auditor):
    make_cluster("prod-eu")

    body = auditor.get(reverse("cluster_detail", args=["prod-eu"])).content.decode()

    for name in ("cluster_trends", "cluster_compare", "guide_index", "waiver_list"):
        assert f'href="{reverse(name, args=["prod-eu"])}"' in body
    assert 'aria-label="This cluster"' in body


def test_the_fleet_band_is_absent_without_clusters(auditor):
    assert Cluster.objects.count() == 0
    body = auditor.get(FLEET).content.decode()
    assert "Failing critical checks" not in body
