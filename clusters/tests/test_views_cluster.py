import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters import crypto, kube
from clusters.kubeconfig import parse_kubeconfig
from clusters.models import Cluster, CollectionRun
from clusters.tests.factories import (
    TOKEN,
    affected,
    bundle_bytes,
    kubeconfig,
    make_cluster,
    make_evaluation,
    make_run,
)

pytestmark = pytest.mark.django_db


def detail(cluster):
    return reverse("cluster_detail", kwargs={"name": cluster.name})


def evaluated_cluster(**results):
    cluster = make_cluster("prod-eu", owners=["platform@example.com", "sre@example.com"])
    make_evaluation(
        cluster,
        results=[
            {
                "check_id": "test.cluster-admin-bindings",
                "status": "fail",
                "summary": "2 subjects hold cluster-admin",
                "affected": affected(25, kind="ClusterRoleBinding", namespace=""),
            },
            {"check_id": "test.default-deny", "status": "pass", "summary": "every namespace"},
            {"check_id": "test.latest-tags", "status": "unknown", "summary": "pods forbidden"},
        ],
        **results,
    )
    return cluster


def test_it_shows_score_coverage_and_each_area(auditor, known_checks):
    cluster = evaluated_cluster()

    response = auditor.get(detail(cluster))

    assert response.status_code == 200
    body = response.content.decode()
    # critical (10) fails, medium (3) passes: 100 * 3 / 13; the low check is unknown.
    assert "23.1" in body
    assert "67%" in body
    areas = {area["label"]: area for area in response.context["areas"]}
    assert areas["Access"]["tally"]["score"] == 0.0
    assert areas["Network"]["tally"]["score"] == 100.0
    assert "100 \N{MULTIPLICATION SIGN} 3 \N{DIVISION SIGN} 13" in body


def test_it_shows_what_each_failing_check_costs(auditor, known_checks):
    cluster = evaluated_cluster()

    response = auditor.get(detail(cluster))

    (failing,) = response.context["failing"]
    assert failing["id"] == "test.cluster-admin-bindings"
    assert failing["score_impact"] == pytest.approx(76.92)
    assert "costs 76.92 points" in response.content.decode()


def test_it_groups_checks_by_area_with_status_in_words(auditor, known_checks):
    cluster = evaluated_cluster()

    body = auditor.get(detail(cluster)).content.decode()

    for words in ("Access", "Network", "Supply chain", "Fail", "Pass", "Unknown"):
        assert words in body
    assert "Severity: critical" in body
    assert "2 subjects hold cluster-admin" in body
    assert "CIS Kubernetes Benchmark 5.1.1" in body


def test_it_shows_twenty_affected_objects_and_links_to_the_rest(auditor, known_checks):
    cluster = evaluated_cluster()

    body = auditor.get(detail(cluster)).content.decode()

    assert "app-00019" in body
    assert "app-00020" not in body
    evidence = reverse("check_detail", args=[cluster.name, "test.cluster-admin-bindings"])
    assert f'<a href="{evidence}">See all 25 affected objects</a>' in body


def test_it_says_why_a_check_is_unknown(auditor, known_checks):
    cluster = make_cluster("prod-eu")
    run = make_run(
        cluster,
        status=CollectionRun.Status.PARTIAL,
        kind_status={"pods": "forbidden", "namespaces": "ok"},
        kind_errors={"pods": "pods is forbidden: cannot list resource"},
    )
    make_evaluation(
        cluster,
        run=run,
        results=[{"check_id": "test.latest-tags", "status": "unknown", "missing": ["pods"]}],
    )

    body = auditor.get(detail(cluster)).content.decode()

    assert "Why unknown" in body
    assert "forbidden: pods" in body  # one line per cause beside the check
    assert body.count("pods is forbidden: cannot list resource") == 1  # said once, on the page


def test_it_renders_a_cluster_never_collected(auditor):
    cluster = make_cluster("new-one")

    response = auditor.get(detail(cluster))

    assert response.status_code == 200
    assert "No completed collection yet" in response.content.decode()


def test_it_renders_results_of_checks_no_longer_in_the_catalog(auditor):
    cluster = make_cluster("prod-eu")
    make_evaluation(cluster, results=[{"check_id": "retired.check", "status": "fail"}])

    response = auditor.get(detail(cluster))

    assert response.status_code == 200
    assert "retired.check" in response.content.decode()


def test_it_lists_owners_and_the_last_twenty_runs(auditor):
    cluster = make_cluster("prod-eu", owners=["platform@example.com"])
    runs = [
        make_run(cluster, status=CollectionRun.Status.FAILED, last_error=f"boom {i}")
        for i in range(22)
    ]

    response = auditor.get(detail(cluster))

    assert "platform@example.com" in response.content.decode()
    assert len(response.context["runs"]) == 20
    assert response.context["runs"][0] == runs[-1]


def test_it_lists_each_run_s_object_counts_escaped(auditor):
    cluster = make_cluster("prod-eu")
    make_run(cluster, object_counts={"pods": 12, "<script>": 3})

    body = auditor.get(detail(cluster)).content.decode()

    assert "<summary>15</summary>" in body
    assert "<li>pods: 12</li><li>&lt;script&gt;: 3</li>" in body


def test_it_escapes_what_affected_objects_say(auditor, known_checks):
    cluster = make_cluster("prod-eu")
    obj = {"kind": "Pod", "namespace": "", "name": "<b>web</b>", "detail": "a & b"}
    make_evaluation(
        cluster, results=[{"check_id": "test.default-deny", "status": "fail", "affected": [obj]}]
    )

    body = auditor.get(detail(cluster)).content.decode()

    assert "<td>Pod</td><td>—</td><td>&lt;b&gt;web&lt;/b&gt;</td><td>a &amp; b</td>" in body


def test_it_lists_references_with_their_version(auditor, known_checks):
    body = auditor.get(detail(evaluated_cluster())).content.decode()

    assert '<span class="ref">CIS Kubernetes Benchmark 5.1.1 (1.9)</span>' in body


def test_it_answers_404_for_an_unknown_cluster(auditor):
    assert auditor.get(reverse("cluster_detail", args=["nope"])).status_code == 404


def test_it_forbids_a_person_without_a_role(outsider):
    cluster = make_cluster("prod-eu")

    assert outsider.get(detail(cluster)).status_code == 403
    assert outsider.get(reverse("cluster_runs_partial", args=[cluster.name])).status_code == 403


def test_it_uses_the_same_number_of_queries_for_few_and_many_checks(auditor, known_checks):
    few, many = make_cluster("few"), make_cluster("many")
    make_evaluation(few, results=[{"check_id": "test.default-deny", "status": "fail"}])
    make_evaluation(
        many,
        results=[
            {"check_id": f"check-{i}", "status": "fail", "affected": affected(3)} for i in range(40)
        ],
    )
    for _ in range(5):
        make_run(many, status=CollectionRun.Status.SUCCEEDED)
    make_run(few, status=CollectionRun.Status.SUCCEEDED)

    counts = []
    for cluster in (few, many):
        cache.clear()  # both reads miss the page and permission caches
        with CaptureQueriesContext(connection) as queries:
            auditor.get(detail(cluster))
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- live collection status ----------------------------------------------------------------


def test_it_polls_the_history_while_a_run_is_active(auditor):
    cluster = make_cluster("prod-eu")
    make_run(cluster, status=CollectionRun.Status.RUNNING, progress="listing pods")
    partial_url = reverse("cluster_runs_partial", args=[cluster.name])

    page = auditor.get(detail(cluster)).content.decode()
    partial = auditor.get(partial_url).content.decode()

    assert f'data-poll-url="{partial_url}?polled=1"' in page
    assert "/static/js/cluster.js" in page
    assert partial.lstrip().startswith("<section")
    assert "Running" in partial
    assert "listing pods" in partial
    assert "<html" not in partial


def test_it_stops_polling_once_no_run_is_active(auditor):
    cluster = make_cluster("prod-eu")
    make_run(cluster, status=CollectionRun.Status.SUCCEEDED)

    partial = auditor.get(reverse("cluster_runs_partial", args=[cluster.name]), {"polled": "1"})

    body = partial.content.decode()
    assert "data-poll-url" not in body
    assert "The collection has finished" in body


# --- actions ----------------------------------------------------------------------------------


def test_it_lets_an_engineer_start_a_collection(engineer):
    cluster = make_cluster("prod-eu")

    response = engineer.post(reverse("cluster_collect", args=[cluster.name]), follow=True)

    run = cluster.runs.get()
    assert run.status == CollectionRun.Status.PENDING
    assert run.trigger == CollectionRun.Trigger.MANUAL
    assert run.requested_by == engineer.user
    assert "Collection requested" in response.content.decode()
    assert "data-poll-url" in response.content.decode()


def test_it_refuses_a_second_collection_while_one_is_active(engineer):
    cluster = make_cluster("prod-eu")
    make_run(cluster, status=CollectionRun.Status.RUNNING)

    response = engineer.post(reverse("cluster_collect", args=[cluster.name]), follow=True)

    assert cluster.runs.count() == 1
    assert "A collection is already running" in response.content.decode()


def test_it_says_a_bundle_cluster_needs_a_bundle_first(engineer):
    cluster = make_cluster("air-gapped", source_kind=Cluster.SourceKind.BUNDLE)

    response = engineer.post(reverse("cluster_collect", args=[cluster.name]), follow=True)

    assert "has no evidence bundle" in response.content.decode()


def test_it_forbids_an_auditor_to_collect(auditor):
    cluster = make_cluster("prod-eu")

    response = auditor.post(reverse("cluster_collect", args=[cluster.name]))

    assert response.status_code == 403
    assert not cluster.runs.exists()
    assert "Collect now" not in auditor.get(detail(cluster)).content.decode()


def test_it_accepts_a_new_bundle_for_a_bundle_cluster(engineer):
    cluster = make_cluster("air-gapped", source_kind=Cluster.SourceKind.BUNDLE)
    upload = SimpleUploadedFile("evidence.tar.gz", bundle_bytes())

    page = engineer.get(detail(cluster)).content.decode()
    response = engineer.post(reverse("cluster_upload", args=[cluster.name]), {"bundle": upload})

    assert "Upload bundle" in page
    assert response.status_code == 302
    run = cluster.runs.get()
    assert run.trigger == CollectionRun.Trigger.UPLOAD
    assert (run.bundle.name or "").endswith(".tar.gz")


def test_it_refuses_a_bundle_that_is_not_an_archive(engineer):
    cluster = make_cluster("air-gapped", source_kind=Cluster.SourceKind.BUNDLE)
    upload = SimpleUploadedFile("notes.txt", b"hello")

    response = engineer.post(
        reverse("cluster_upload", args=[cluster.name]), {"bundle": upload}, follow=True
    )

    assert "must be a .tar.gz or .zip" in response.content.decode()
    assert not cluster.runs.exists()


def test_it_refuses_an_unreadable_bundle(engineer):
    cluster = make_cluster("air-gapped", source_kind=Cluster.SourceKind.BUNDLE)
    upload = SimpleUploadedFile("broken.tar.gz", b"not a tarball")

    response = engineer.post(
        reverse("cluster_upload", args=[cluster.name]), {"bundle": upload}, follow=True
    )

    assert "cannot be read" in response.content.decode()
    assert not cluster.runs.exists()


def test_it_names_the_page_to_open_when_the_page_s_script_sends_the_upload(engineer):
    # static/js/upload.js sends the bundle itself to show progress; a redirect would be followed
    # out of sight and spend the messages, so it is told where to go and the messages wait.
    cluster = make_cluster("air-gapped", source_kind=Cluster.SourceKind.BUNDLE)
    url = reverse("cluster_upload", args=[cluster.name])
    sent = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}

    accepted = engineer.post(
        url, {"bundle": SimpleUploadedFile("e.tar.gz", bundle_bytes())}, **sent
    )
    refused = engineer.post(url, {"bundle": SimpleUploadedFile("notes.txt", b"hi")}, **sent)

    assert (accepted.status_code, accepted.json()) == (200, {"location": detail(cluster)})
    assert refused.json() == {"location": detail(cluster)}
    shown = engineer.get(detail(cluster)).content.decode()
    assert "Bundle uploaded; it is being evaluated." in shown
    assert "must be a .tar.gz or .zip" in shown
    assert cluster.runs.count() == 1


def live_cluster():
    credentials = parse_kubeconfig(kubeconfig())
    return make_cluster(
        "prod-eu",
        credentials=crypto.encrypt(credentials.to_json()),
        api_server=credentials.server,
    )


def test_it_shows_what_the_credentials_can_list(engineer, monkeypatch):
    cluster = live_cluster()
    seen = {}

    def fake_test_connection(credentials, *, timeout):
        seen["token"] = credentials.token
        return kube.ConnectionReport(
            ok=True,
            version="v1.31.4",
            resources={"pods": "ok", "secrets": "forbidden", "nodes": "ok"},
            anonymous_probe={"/version": 200, "/api": 403},
        )

    monkeypatch.setattr(kube, "test_connection", fake_test_connection)

    response = engineer.post(reverse("cluster_test_connection", args=[cluster.name]))

    body = response.content.decode()
    assert response.status_code == 200
    assert seen["token"] == TOKEN
    assert "Kubernetes v1.31.4" in body
    assert "may list 2 of 3 resource kinds" in body
    assert "Forbidden" in body
    assert "answered anonymously" in body
    assert TOKEN not in body


def test_it_never_echoes_a_token_in_a_connection_error(engineer, monkeypatch):
    cluster = live_cluster()
    monkeypatch.setattr(
        kube,
        "test_connection",
        lambda credentials, *, timeout: kube.ConnectionReport(ok=False, error=f"bad {TOKEN}"),
    )

    body = engineer.post(reverse("cluster_test_connection", args=[cluster.name])).content.decode()

    assert "Failed" in body
    assert TOKEN not in body


def test_it_forbids_an_auditor_to_test_the_connection(auditor):
    cluster = live_cluster()

    assert auditor.post(reverse("cluster_test_connection", args=[cluster.name])).status_code == 403
    assert "Test connection" not in auditor.get(detail(cluster)).content.decode()


def test_it_has_no_connection_to_test_for_a_bundle_cluster(engineer):
    cluster = make_cluster("air-gapped", source_kind=Cluster.SourceKind.BUNDLE)

    response = engineer.post(reverse("cluster_test_connection", args=[cluster.name]), follow=True)

    assert "nothing to connect" in response.content.decode()


def test_it_answers_get_on_actions_with_405(engineer):
    cluster = make_cluster("prod-eu")

    assert engineer.get(reverse("cluster_collect", args=[cluster.name])).status_code == 405
