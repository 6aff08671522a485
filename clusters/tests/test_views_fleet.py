from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters.models import CollectionRun
from clusters.rows import decimal_text
from clusters.tests.factories import make_cluster, make_evaluation, make_run

pytestmark = pytest.mark.django_db
FLEET = reverse("fleet")


def rows(response):
    return [cluster.name for cluster in response.context["page"].object_list]


def test_it_lists_every_cluster_with_environment_score_and_coverage(engineer):
    prod = make_cluster("prod-eu", environment="production")
    make_evaluation(prod, score_value=72.5, coverage=88.0)
    make_cluster("staging-us", environment="staging")

    response = engineer.get(FLEET)

    assert response.status_code == 200
    assert rows(response) == ["prod-eu", "staging-us"]
    body = response.content.decode()
    assert "72.5" in body
    assert "88%" in body
    assert "production" in body
    assert "Never collected" in body
    assert "no score" in body


def test_it_shows_the_change_since_last_week(auditor):
    cluster = make_cluster("prod-eu")
    now = timezone.now()
    make_evaluation(cluster, score_value=60.0, created_at=now - timedelta(days=9), latest=False)
    make_evaluation(cluster, score_value=70.0, created_at=now - timedelta(days=8), latest=False)
    make_evaluation(cluster, score_value=95.0, created_at=now - timedelta(days=2), latest=False)
    make_evaluation(cluster, score_value=85.0, created_at=now)

    response = auditor.get(FLEET)

    (row,) = response.context["page"].object_list
    assert row.week_ago_score == 70.0
    assert row.score_change == 15.0
    assert "+15.0" in response.content.decode()


def test_it_shows_a_drop_as_text_not_only_colour(auditor):
    cluster = make_cluster("prod-eu")
    make_evaluation(cluster, score_value=90.0, created_at=timezone.now() - timedelta(days=8))
    make_evaluation(cluster, score_value=80.0)

    body = auditor.get(FLEET).content.decode()

    assert "▼ -10.0" in body


def test_it_shows_no_change_for_a_cluster_without_history(auditor):
    make_evaluation(make_cluster("fresh"), score_value=80.0)

    (row,) = auditor.get(FLEET).context["page"].object_list

    assert row.score_change is None


def test_it_filters_by_environment_status_and_name(engineer):
    prod = make_cluster("prod-eu", environment="production")
    make_run(prod, status=CollectionRun.Status.FAILED)
    prod_us = make_cluster("prod-us", environment="production")
    make_run(prod_us, status=CollectionRun.Status.SUCCEEDED)
    make_cluster("staging-eu", environment="staging")

    assert rows(engineer.get(FLEET, {"environment": "production"})) == ["prod-eu", "prod-us"]
    assert rows(engineer.get(FLEET, {"status": "failed"})) == ["prod-eu"]
    assert rows(engineer.get(FLEET, {"status": "never"})) == ["staging-eu"]
    assert rows(engineer.get(FLEET, {"q": "EU"})) == ["prod-eu", "staging-eu"]
    assert rows(engineer.get(FLEET, {"q": "eu", "environment": "staging"})) == ["staging-eu"]


def test_it_ignores_filters_it_does_not_know(engineer):
    make_cluster("prod-eu")

    response = engineer.get(FLEET, {"environment": "nowhere", "status": "bogus", "sort": "x"})

    assert response.status_code == 200
    assert rows(response) == ["prod-eu"]


def test_it_sorts_by_score_with_unscored_clusters_last(engineer):
    make_evaluation(make_cluster("a-good"), score_value=95.0)
    make_evaluation(make_cluster("b-bad"), score_value=40.0)
    make_cluster("c-new")

    assert rows(engineer.get(FLEET, {"sort": "score"})) == ["b-bad", "a-good", "c-new"]
    assert rows(engineer.get(FLEET, {"sort": "-score"})) == ["a-good", "b-bad", "c-new"]
    assert rows(engineer.get(FLEET, {"sort": "-name"})) == ["c-new", "b-bad", "a-good"]


def test_it_paginates_fifty_clusters_a_page(auditor):
    for i in range(51):
        make_cluster(f"cluster-{i:03d}")

    first = auditor.get(FLEET)
    second = auditor.get(FLEET, {"page": 2})

    assert len(rows(first)) == 50
    assert rows(second) == ["cluster-050"]
    assert "Page 1 of 2" in first.content.decode()


def _fleet_of(size):
    now = timezone.now()
    for i in range(size):
        cluster = make_cluster(f"cluster-{i:03d}", environment=["production", "staging"][i % 2])
        make_evaluation(cluster, score_value=50.0, created_at=now - timedelta(days=8), latest=False)
        make_evaluation(cluster, score_value=60.0 + i % 30, created_at=now)


def _queries(client, params=None):
    """Queries of a read that misses the page cache (every part of the page built)."""
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(FLEET, params or {}).status_code == 200
    return len(queries)


def test_it_runs_the_same_number_of_queries_for_5_and_30_clusters(engineer):
    _fleet_of(5)
    small = _queries(engineer)
    _fleet_of_more = [make_cluster(f"more-{i:03d}") for i in range(25)]
    for cluster in _fleet_of_more:
        make_evaluation(cluster, score_value=70.0)

    assert _queries(engineer) == small
    assert _queries(engineer, {"environment": "production", "sort": "score"}) == small


def test_it_stays_within_a_fixed_query_budget(engineer, django_assert_max_num_queries):
    _fleet_of(30)

    with django_assert_max_num_queries(10):
        engineer.get(FLEET)


def test_it_reads_neither_credentials_nor_json_columns_to_list_clusters(auditor):
    _fleet_of(3)

    with CaptureQueriesContext(connection) as queries:
        auditor.get(FLEET)

    (listing,) = [q["sql"] for q in queries if "week_ago_score" in q["sql"]]
    # The judged-check count reads three keys of the status counts in SQL; the column itself
    # is never selected.
    listing = listing.replace('"posture_evaluation"."status_counts" ->>', "key of")
    for column in ("credentials", "object_counts", "kind_status", "area_scores", "status_counts"):
        assert column not in listing


@pytest.mark.parametrize("places", [0, 1, 2])
@pytest.mark.parametrize(
    "value", [0.0, -0.0, -0.04, 0.05, 0.25, 2.675, 72.25, 72.35, 99.95, -10.0, 100.0, 1e-7]
)
def test_it_formats_numbers_as_the_floatformat_filter_does(value, places):
    assert decimal_text(value, places) == floatformat(value, places)


def test_it_forbids_a_person_without_a_role(outsider):
    make_cluster("prod-eu")

    assert outsider.get(FLEET).status_code == 403


def test_it_offers_registration_only_to_those_allowed(engineer, auditor):
    register = reverse("cluster_register")

    assert register in engineer.get(FLEET).content.decode()
    assert register not in auditor.get(FLEET).content.decode()


def test_it_shows_the_role_and_a_logout_form(auditor):
    body = auditor.get(FLEET).content.decode()

    assert "Auditor" in body
    assert f'method="post" action="{reverse("logout")}"' in body
