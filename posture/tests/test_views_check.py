import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters.models import CollectionRun
from clusters.tests.factories import affected, make_cluster, make_evaluation, make_run
from posture import scoring

pytestmark = pytest.mark.django_db
CHECK = "test.cluster-admin-bindings"


def evidence(cluster, check_id=CHECK):
    return reverse("check_detail", args=[cluster.name, check_id])


def failing_cluster(count):
    cluster = make_cluster("prod-eu")
    make_evaluation(
        cluster,
        results=[
            {
                "check_id": CHECK,
                "status": "fail",
                "summary": "3 people hold cluster-admin",
                "affected": affected(count, kind="ClusterRoleBinding", namespace=""),
            },
            {"check_id": "test.default-deny", "status": "pass"},
        ],
    )
    return cluster


def test_it_shows_the_check_in_full(auditor, known_checks):
    cluster = failing_cluster(3)

    response = auditor.get(evidence(cluster))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Cluster-admin granted to people" in body
    assert "cluster-admin can do anything" in body
    assert "Bind narrower roles" in body
    assert "CIS Kubernetes Benchmark" in body
    assert "Ensure cluster-admin is used only where required" in body
    assert "3 people hold cluster-admin" in body
    assert "weight 10" in body
    # critical 10 of 13 judged weight: the failure costs 76.92 points.
    assert "costs 76.92 points" in body
    assert "app-00002" in body


def test_it_pages_through_affected_objects_500_at_a_time(auditor, known_checks):
    cluster = failing_cluster(1201)

    first = auditor.get(evidence(cluster))
    last = auditor.get(evidence(cluster), {"page": 3})

    assert len(first.context["page"].object_list) == 500
    assert "Affected objects (1201)" in first.content.decode()
    assert "Page 1 of 3" in first.content.decode()
    assert len(last.context["page"].object_list) == 201
    assert "app-01200" in last.content.decode()


def test_it_says_why_a_check_is_unknown(auditor, known_checks):
    cluster = make_cluster("prod-eu")
    run = make_run(
        cluster,
        status=CollectionRun.Status.PARTIAL,
        kind_status={"clusterrolebindings": "forbidden"},
        kind_errors={"clusterrolebindings": "forbidden by RBAC"},
    )
    make_evaluation(
        cluster,
        run=run,
        results=[{"check_id": CHECK, "status": "unknown", "missing": ["clusterrolebindings"]}],
    )

    body = auditor.get(evidence(cluster)).content.decode()

    assert "Why unknown" in body
    assert "forbidden: clusterrolebindings" in body  # one line per cause
    assert body.count("forbidden by RBAC") == 1  # what the API said, once


def test_it_describes_a_check_not_evaluated_yet(auditor, known_checks):
    cluster = make_cluster("new-one")

    response = auditor.get(evidence(cluster))

    assert response.status_code == 200
    assert "not evaluated yet" in response.content.decode()


def test_it_answers_404_for_a_check_it_does_not_know(auditor):
    cluster = make_cluster("prod-eu")

    assert auditor.get(evidence(cluster, "no.such-check")).status_code == 404


def test_it_forbids_a_person_without_a_role(outsider, known_checks):
    assert outsider.get(evidence(failing_cluster(1))).status_code == 403


def test_it_reads_the_same_number_of_queries_for_few_and_many_objects(auditor, known_checks):
    few = failing_cluster(2)
    many = make_cluster("many")
    make_evaluation(
        many, results=[{"check_id": CHECK, "status": "fail", "affected": affected(900)}]
    )

    counts = []
    for cluster in (few, many):
        with CaptureQueriesContext(connection) as queries:
            auditor.get(evidence(cluster))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_it_explains_the_score_formula(outsider):
    body = outsider.get(reverse("score_formula")).content.decode()

    assert scoring.__doc__.strip().splitlines()[0] in body
    assert "Σ weight(passing) / Σ weight(judged)" in body
    for severity, weight in (("critical", 10), ("high", 6), ("medium", 3), ("low", 1)):
        assert f"severity-{severity}" in body
        assert f'<td class="num">{weight}</td>' in body
