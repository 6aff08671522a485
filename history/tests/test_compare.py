"""Comparing two evaluations of a cluster: scores, versions, verdicts and findings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters.models import Cluster
from clusters.tests.factories import affected, make_cluster, make_evaluation, make_run
from history import compare
from posture.models import Evaluation
from posture.reconcile import findings_reconcile

pytestmark = pytest.mark.django_db

ADMIN_BINDINGS = "test.cluster-admin-bindings"  # critical, access
DEFAULT_DENY = "test.default-deny"  # medium, network
TAGS = "test.latest-tags"  # low, supply chain
START = timezone.now() - timedelta(days=3)


def evaluate(
    cluster: Cluster,
    *results: dict,
    hours: int,
    version: str = "v1.31.4",
    counts: dict | None = None,
) -> Evaluation:
    """An evaluation `hours` after START, with its findings reconciled as a collection does."""
    at = START + timedelta(hours=hours)
    run = make_run(
        cluster,
        created_at=at,
        kubernetes_version=version,
        object_counts=counts or {"pods": 12, "namespaces": 3},
    )
    evaluation = make_evaluation(cluster, results=results, created_at=at, run=run)
    findings_reconcile(evaluation=evaluation)
    return evaluation


def failing(check_id: str, *objects: dict) -> dict:
    return {"check_id": check_id, "status": "fail", "affected": list(objects)}


def passing(check_id: str) -> dict:
    return {"check_id": check_id, "status": "pass"}


def binding(name: str) -> dict:
    return {
        "kind": "ClusterRoleBinding",
        "namespace": "",
        "name": name,
        "detail": "grants cluster-admin to User a@example.com",
    }


def pod(name: str) -> dict:
    return {"kind": "Pod", "namespace": "shop", "name": name, "detail": "image nginx:latest"}


def compare_url(cluster: Cluster, before: Evaluation | None = None, to: Evaluation | None = None):
    url = reverse("cluster_compare", args=[cluster.name])
    params = []
    if before is not None:
        params.append(f"from={before.pk}")
    if to is not None:
        params.append(f"to={to.pk}")
    return f"{url}?{'&'.join(params)}" if params else url


def names(findings: compare.Capped) -> list[str]:
    return [row.name for row in findings.rows]


def tally(findings: compare.FindingsDiff) -> dict[str, int]:
    return {
        "new": findings.new.total,
        "reopened": findings.reopened.total,
        "resolved": findings.resolved.total,
        "still open": findings.still_open,
    }


def test_it_compares_the_latest_evaluation_with_the_one_before(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("old")), hours=0, version="v1.30.1")
    before = evaluate(
        cluster,
        passing(ADMIN_BINDINGS),
        passing(DEFAULT_DENY),
        {"check_id": TAGS, "status": "unknown"},
        hours=1,
        version="v1.31.4",
        counts={"pods": 12, "namespaces": 3, "services": 4},
    )
    after = evaluate(
        cluster,
        passing(ADMIN_BINDINGS),
        failing(DEFAULT_DENY, {"kind": "Namespace", "namespace": "", "name": "shop", "detail": ""}),
        failing(TAGS, pod("web-7d9f8c6b5-x2x9z")),
        hours=2,
        version="v1.32.0",
        counts={"pods": 15, "namespaces": 4, "services": 4},
    )

    response = auditor.get(compare_url(cluster))

    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert (comparison.before, comparison.after, comparison.swapped) == (before, after, False)
    assert (comparison.score.before, comparison.score.after, comparison.score.change) == (
        100.0,
        71.4,
        -28.6,
    )
    assert comparison.coverage.change == 33.3
    network = next(area for area in comparison.areas if area.key == "network")
    assert (network.before, network.after, network.change) == (100.0, 0.0, -100.0)
    assert [(c.kind, c.before, c.after) for c in comparison.object_counts] == [
        ("namespaces", 3, 4),
        ("pods", 12, 15),
    ]
    assert comparison.unchanged_counts == 1
    changes = [(c.check_id, c.before, c.after, c.kind) for c in comparison.status_changes.rows]
    assert changes == [
        (DEFAULT_DENY, "pass", "fail", "regressed"),
        (TAGS, "unknown", "fail", "regressed"),
    ]
    body = response.content.decode()
    assert "v1.31.4 → <strong>v1.32.0</strong>" in body
    assert "▼ -100.0" in body and "▲ +33.3 pts" in body
    assert reverse("check_detail", args=[cluster.name, DEFAULT_DENY]) in body
    assert "Namespaces without a default-deny NetworkPolicy" in body


def test_it_offers_every_held_evaluation_newest_first(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    older = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0, version="v1.35.1")
    newer = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=1, version="v1.35.2")

    response = auditor.get(compare_url(cluster))

    local = timezone.localtime(newer.created_at).strftime("%Y-%m-%d %H:%M")
    assert response.context["choices"] == [
        (newer.pk, f"{local} · score 0.0 · v1.35.2"),
        (
            older.pk,
            compare.evaluation_label(created_at=older.created_at, score=100.0, version="v1.35.1"),
        ),
    ]
    body = response.content.decode()
    # Picked by date, not from a list of every collection: the dates of the pair are filled in.
    assert "<option" not in body
    day = timezone.localtime(older.created_at).date().isoformat()
    assert f'name="from_date" value="{day}"' in body
    assert (
        compare.evaluation_label(created_at=older.created_at, score=100.0, version="v1.35.1")
        in body
    )


def test_it_caps_the_evaluations_offered_with_a_note(auditor, known_checks, monkeypatch) -> None:
    monkeypatch.setattr(compare, "CHOICES_CAP", 3)
    cluster = make_cluster("prod-eu")
    evaluations = [evaluate(cluster, passing(ADMIN_BINDINGS), hours=hour) for hour in range(5)]

    response = auditor.get(compare_url(cluster, evaluations[0], evaluations[4]))

    offered = [pk for pk, _ in response.context["choices"]]
    # The three latest, and the older one being compared even though the cap leaves it out.
    assert offered == [evaluations[4].pk, evaluations[3].pk, evaluations[2].pk, evaluations[0].pk]
    assert response.context["more_choices"]


def test_it_lists_new_resolved_and_reopened_findings(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    first = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a"), binding("b")), hours=0)
    second = evaluate(cluster, failing(ADMIN_BINDINGS, binding("b")), hours=1)
    third = evaluate(
        cluster, failing(ADMIN_BINDINGS, binding("a"), binding("b"), binding("c")), hours=2
    )

    fixed = auditor.get(compare_url(cluster, first, second)).context["comparison"].findings
    back = auditor.get(compare_url(cluster, second, third))

    assert tally(fixed) == {"new": 0, "reopened": 0, "resolved": 1, "still open": 1}
    assert names(fixed.resolved) == ["a"]
    findings = back.context["comparison"].findings
    assert tally(findings) == {"new": 1, "reopened": 1, "resolved": 0, "still open": 1}
    assert (names(findings.new), names(findings.reopened)) == (["c"], ["a"])
    assert findings.reopened.rows[0].first_seen_at == first.created_at
    body = back.content.decode()
    assert "1 new" in body and "1 reopened" in body and "0 resolved" in body


def test_it_counts_a_finding_new_across_a_gap_only_when_never_seen_before(
    auditor, known_checks
) -> None:
    cluster = make_cluster("prod-eu")
    first = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=1)
    third = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=2)

    findings = auditor.get(compare_url(cluster, first, third)).context["comparison"].findings

    # First seen after `from`: new to this comparison, not a return.
    assert (names(findings.new), names(findings.reopened)) == (["a"], [])


def test_it_sees_no_change_in_findings_through_a_rolling_update(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    before = evaluate(
        cluster,
        failing(TAGS, pod("web-7d9f8c6b5-x2x9z"), pod("web-7d9f8c6b5-k4m8p")),
        hours=0,
        counts={"pods": 2, "replicasets": 1},
    )
    # A new ReplicaSet hash and new pod names: the same Deployment with the same problem.
    after = evaluate(
        cluster,
        failing(TAGS, pod("web-5c8d7b9f4-q7w4z"), pod("web-5c8d7b9f4-z2c6v")),
        hours=1,
        counts={"pods": 2, "replicasets": 2},
    )

    comparison = auditor.get(compare_url(cluster, before, after)).context["comparison"]

    assert tally(comparison.findings) == {"new": 0, "reopened": 0, "resolved": 0, "still open": 1}
    assert comparison.status_changes.total == 0
    assert [(c.kind, c.before, c.after) for c in comparison.object_counts] == [
        ("replicasets", 1, 2)
    ]


def test_it_never_calls_findings_of_a_check_that_went_unknown_resolved(
    auditor, known_checks
) -> None:
    cluster = make_cluster("prod-eu")
    before = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=0)
    after = evaluate(
        cluster, {"check_id": ADMIN_BINDINGS, "status": "unknown", "summary": "forbidden"}, hours=1
    )

    response = auditor.get(compare_url(cluster, before, after))

    comparison = response.context["comparison"]
    assert comparison.findings.resolved.total == 0 and comparison.findings.not_comparable == 1
    assert [(c.before, c.after, c.kind) for c in comparison.status_changes.rows] == [
        ("fail", "unknown", "other")
    ]
    assert "Missing data is never a fix" in response.content.decode()


def test_it_caps_long_lists_with_a_count_of_the_rest(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    before = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    after = evaluate(cluster, failing(ADMIN_BINDINGS, *affected(205)), hours=1)

    response = auditor.get(compare_url(cluster, before, after))

    new = response.context["comparison"].findings.new
    assert (len(new.rows), new.total, new.more) == (200, 205, 5)
    assert "and 5 more" in response.content.decode()


def test_it_swaps_a_newer_from_and_says_so(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    older = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    newer = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=1)

    response = auditor.get(compare_url(cluster, newer, older))

    comparison = response.context["comparison"]
    assert (comparison.before, comparison.after, comparison.swapped) == (older, newer, True)
    assert names(comparison.findings.new) == ["a"]
    assert "the two were swapped" in response.content.decode()


def test_it_orders_a_default_pair_without_remark(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    oldest = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    middle = evaluate(cluster, passing(ADMIN_BINDINGS), hours=1)
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=2)

    response = auditor.get(compare_url(cluster, to=oldest))

    comparison = response.context["comparison"]
    assert (comparison.before, comparison.after, comparison.swapped) == (oldest, middle, False)
    assert "swapped" not in response.content.decode()


def test_it_refuses_another_clusters_evaluation(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    mine = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=1)
    theirs = evaluate(make_cluster("staging-eu"), passing(ADMIN_BINDINGS), hours=0)

    response = auditor.get(compare_url(cluster, mine, theirs))

    assert response.status_code == 404
    assert "comparison" not in response.context
    assert f"Evaluation {theirs.pk} is not held for prod-eu" in response.content.decode()


def test_it_explains_an_evaluation_pruned_by_retention(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    pruned = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    latest = evaluate(cluster, passing(ADMIN_BINDINGS), hours=1)
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=2)
    pruned_id = pruned.pk
    pruned.run.delete()  # what history_prune does: the run goes, its evaluation with it

    response = auditor.get(
        f"{reverse('cluster_compare', args=[cluster.name])}?from={pruned_id}&to={latest.pk}"
    )

    assert response.status_code == 404
    body = response.content.decode()
    assert "retention removed it" in body and "kept for 90 days" in body
    assert "Pick two of the evaluations still held" in body


def test_it_needs_two_evaluations(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    url = reverse("cluster_compare", args=[cluster.name])
    assert "has no evaluation yet" in auditor.get(url).content.decode()

    evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    response = auditor.get(url)

    assert response.status_code == 200
    assert "comparison" not in response.context
    assert "has a single evaluation" in response.content.decode()


def test_it_rejects_an_id_that_is_not_a_number(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")

    assert (
        auditor.get(reverse("cluster_compare", args=[cluster.name]) + "?from=x").status_code == 404
    )


def test_it_forbids_a_person_without_a_role(outsider, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=1)

    assert outsider.get(compare_url(cluster)).status_code == 403


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_it_runs_the_same_queries_whatever_the_size_of_the_diff(
    auditor, known_checks, django_assert_max_num_queries
) -> None:
    small, large = make_cluster("small"), make_cluster("large")
    for cluster, count in ((small, 2), (large, 300)):
        evaluate(cluster, failing(ADMIN_BINDINGS, *affected(count)), hours=0)
        evaluate(cluster, failing(ADMIN_BINDINGS, *affected(count, namespace="other")), hours=1)

    assert _queries(auditor, compare_url(small)) == _queries(auditor, compare_url(large))
    with django_assert_max_num_queries(12):
        auditor.get(compare_url(large))


def test_it_renders_no_inline_style(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    before = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=0)
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("b")), hours=1)

    body = auditor.get(compare_url(cluster, before)).content.decode()

    assert not re.search(r"\sstyle=", body)
    assert "<script>" not in body
    assert "css/history.css" in body


def test_it_defaults_to_the_last_collection_that_changed_something(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    changed = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    first_same = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=1)
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=2)
    latest = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=3)
    assert latest.verdict_set_id == first_same.verdict_set_id  # stored once per content

    comparison = auditor.get(compare_url(cluster)).context["comparison"]

    assert (comparison.before.pk, comparison.after.pk) == (changed.pk, latest.pk)
    assert [change.check_id for change in comparison.status_changes.rows] == [ADMIN_BINDINGS]


def test_it_falls_back_to_the_one_before_when_nothing_ever_changed(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    before = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    latest = evaluate(cluster, passing(ADMIN_BINDINGS), hours=1)
    comparison = auditor.get(compare_url(cluster)).context["comparison"]
    assert (comparison.before.pk, comparison.after.pk) == (before.pk, latest.pk)


def test_it_picks_the_last_collection_at_or_before_each_date(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    day_one = evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=25)
    day_two_last = evaluate(cluster, failing(ADMIN_BINDINGS, binding("a")), hours=26)
    evaluate(cluster, failing(ADMIN_BINDINGS, binding("b")), hours=50)

    first = timezone.localtime(day_one.created_at).date()
    second = timezone.localtime(day_two_last.created_at).date()
    url = reverse("cluster_compare", args=[cluster.name])
    response = auditor.get(f"{url}?from_date={first}&to_date={second}")

    comparison = response.context["comparison"]
    expected_to = compare.evaluation_on(cluster=cluster, day=second)
    assert comparison.before.pk == compare.evaluation_on(cluster=cluster, day=first)
    assert expected_to is not None and comparison.after.pk == expected_to
    # That day's last collection: the one at hour 26, not the later one of the next day.
    assert expected_to == day_two_last.pk or (
        timezone.localtime(day_two_last.created_at).date()
        == timezone.localtime(Evaluation.objects.get(pk=expected_to).created_at).date()
    )


def test_it_says_so_for_a_bad_or_too_early_date(auditor, known_checks) -> None:
    cluster = make_cluster("prod-eu")
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=0)
    evaluate(cluster, passing(ADMIN_BINDINGS), hours=1)
    url = reverse("cluster_compare", args=[cluster.name])
    body = auditor.get(f"{url}?from_date=yesterday").content.decode()
    assert "&#x27;yesterday&#x27; is not a date (YYYY-MM-DD)." in body
    body = auditor.get(f"{url}?from_date=2001-01-01").content.decode()
    assert "prod-eu has no collection on or before 2001-01-01." in body
