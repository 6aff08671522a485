"""The drift matrix: each check's latest verdict across the fleet, grouped by environment."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters.models import Cluster
from clusters.tests.factories import make_cluster, make_evaluation
from history import drift

pytestmark = pytest.mark.django_db

DRIFT = reverse("fleet_drift")
ADMIN_BINDINGS = "test.cluster-admin-bindings"  # critical, access
DEFAULT_DENY = "test.default-deny"  # medium, network
TAGS = "test.latest-tags"  # low, supply chain


def evaluated(name: str, environment: str, **statuses: str) -> Cluster:
    """A cluster whose latest evaluation gives these verdicts (keyword: check id's last part)."""
    ids = {"admin": ADMIN_BINDINGS, "deny": DEFAULT_DENY, "tags": TAGS}
    cluster = make_cluster(name, environment=environment)
    make_evaluation(
        cluster,
        results=[{"check_id": ids[key], "status": status} for key, status in statuses.items()],
    )
    return cluster


@pytest.fixture
def fleet(known_checks):
    """Staging passes the default-deny check, production fails it; every cluster agrees on admin."""
    return [
        evaluated("stage-eu", "staging", admin="pass", deny="pass", tags="fail"),
        evaluated("prod-eu", "production", admin="pass", deny="fail", tags="fail"),
        evaluated("prod-us", "production", admin="pass", deny="fail", tags="unknown"),
    ]


def row_ids(response) -> list[str]:
    return [row.check_id for row in response.context["matrix"].rows]


def column_names(response) -> list[str]:
    return [column.name for column in response.context["matrix"].columns]


def test_it_shows_a_check_that_passes_in_staging_and_fails_in_production(auditor, fleet) -> None:
    response = auditor.get(DRIFT)

    assert response.status_code == 200
    assert row_ids(response) == [DEFAULT_DENY]  # admin: all pass; tags: fail or unknown
    (row,) = response.context["matrix"].rows
    assert row.summary == "fails in 2 of 3 (production: 2/2)"
    assert [cell.status for cell in row.cells] == ["fail", "fail", "pass"]
    assert column_names(response) == ["prod-eu", "prod-us", "stage-eu"]
    assert [(g.environment, g.span) for g in response.context["matrix"].groups] == [
        ("production", 2),
        ("staging", 1),
    ]
    body = response.content.decode()
    assert '<span aria-hidden="true">✓</span> pass' in body
    assert '<span aria-hidden="true">✗</span> fail' in body
    assert 'class="verdict status-fail"' in body
    assert f'href="{reverse("check_detail", args=["prod-eu", DEFAULT_DENY])}"' in body
    assert '<th scope="colgroup" colspan="2"' in body


def test_it_shows_every_check_on_request(auditor, fleet) -> None:
    response = auditor.get(DRIFT, {"only": "all"})

    # Divided first, then by severity: admin (critical, all pass) before tags (low, no pass).
    assert row_ids(response) == [DEFAULT_DENY, ADMIN_BINDINGS, TAGS]
    tags = response.context["matrix"].rows[2]
    assert tags.summary == "fails in 2 of 3 (production: 1/2, staging: 1/1); not judged on 1"
    assert "? unknown" in response.content.decode().replace(
        '<span aria-hidden="true">?</span>', "?"
    )


def test_it_sorts_the_most_divided_and_severe_checks_first(auditor, known_checks) -> None:
    evaluated("a", "production", admin="fail", deny="fail", tags="fail")
    evaluated("b", "production", admin="pass", deny="fail", tags="pass")
    evaluated("c", "production", admin="pass", deny="pass", tags="pass")
    evaluated("d", "production", admin="pass", deny="pass", tags="fail")

    # deny and tags split 2/2; deny is the more severe. admin fails on one of four.
    assert row_ids(auditor.get(DRIFT)) == [DEFAULT_DENY, TAGS, ADMIN_BINDINGS]


def test_it_filters_by_environment(auditor, fleet) -> None:
    production = auditor.get(DRIFT, {"environment": "production"})

    assert column_names(production) == ["prod-eu", "prod-us"]
    assert row_ids(production) == []  # production agrees with itself
    assert "The clusters agree on every check" in production.content.decode()
    everything = auditor.get(DRIFT, {"environment": "production", "only": "all"})
    assert DEFAULT_DENY in row_ids(everything)


def test_it_filters_by_area(auditor, fleet) -> None:
    network = auditor.get(DRIFT, {"area": "network", "only": "all"})
    access = auditor.get(DRIFT, {"area": "access"})

    assert row_ids(network) == [DEFAULT_DENY]
    assert row_ids(access) == []
    assert 'option value="network" selected' in network.content.decode()


def test_it_ignores_filters_it_does_not_offer(auditor, fleet) -> None:
    response = auditor.get(DRIFT, {"environment": "mars", "area": "nope", "only": "some"})

    assert response.context["filters"] == drift.DriftFilters()
    assert column_names(response) == ["prod-eu", "prod-us", "stage-eu"]


def test_it_pages_through_clusters_40_at_a_time(auditor, known_checks) -> None:
    evaluated("stage-000", "staging", deny="pass")
    for number in range(44):
        evaluated(f"prod-{number:03d}", "production", deny="fail")

    first = auditor.get(DRIFT)
    second = auditor.get(DRIFT, {"page": 2})

    assert len(column_names(first)) == drift.PAGE_SIZE
    assert column_names(second) == ["prod-040", "prod-041", "prod-042", "prod-043", "stage-000"]
    # Rows and summaries count the whole fleet, whichever page shows.
    for page in (first, second):
        assert [row.summary for row in page.context["matrix"].rows] == [
            "fails in 44 of 45 (production: 44/44)"
        ]
    assert [(g.environment, g.span) for g in second.context["matrix"].groups] == [
        ("production", 4),
        ("staging", 1),
    ]
    assert "Page 2 of 2" in second.content.decode()


def test_it_leaves_out_clusters_without_an_evaluation(auditor, fleet) -> None:
    make_cluster("new-one", environment="staging")

    response = auditor.get(DRIFT)

    assert "new-one" not in column_names(response)
    assert "1 cluster without an evaluation is left out" in response.content.decode()


def test_it_says_when_no_cluster_has_an_evaluation(auditor, known_checks) -> None:
    make_cluster("new-one")

    assert "No cluster has an evaluation yet" in auditor.get(DRIFT).content.decode()


def test_it_shows_the_fleet_to_every_role_and_nobody_else(
    admin, engineer, auditor, outsider, fleet
) -> None:
    for persona in (admin, engineer, auditor):
        assert persona.get(DRIFT).status_code == 200
    assert outsider.get(DRIFT).status_code == 403


def _queries(client, **params: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(DRIFT, params).status_code == 200
    return len(queries)


def _fleet_of(count: int) -> None:
    for number in range(count):
        environment = "production" if number % 2 else "staging"
        evaluated(f"c-{number:03d}", environment, admin="pass", deny=["pass", "fail"][number % 2])


def test_it_runs_the_same_number_of_queries_for_2_and_15_clusters(
    auditor, known_checks, django_assert_max_num_queries
) -> None:
    _fleet_of(2)
    small = _queries(auditor)
    with django_assert_max_num_queries(small):
        auditor.get(DRIFT, {"environment": "production", "area": "network", "only": "all"})
    Cluster.objects.all().delete()

    _fleet_of(15)

    with django_assert_max_num_queries(small):
        auditor.get(DRIFT)
    with django_assert_max_num_queries(small):
        auditor.get(DRIFT, {"environment": "production", "area": "network", "only": "all"})
    assert _queries(auditor) == small <= 8


def test_it_renders_no_inline_style(auditor, fleet) -> None:
    body = auditor.get(DRIFT, {"only": "all"}).content.decode()

    assert not re.search(r"\sstyle=", body)
    assert "<script>" not in body
    assert "css/history.css" in body
