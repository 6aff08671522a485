"""The fleet's trend page: FleetDay series, one environment's aggregate, worst movers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters.tests.factories import make_cluster
from history.tests.test_trends import chart, finding
from posture.models import ClusterDay, FleetDay
from posture.rollups import fleet_day_refresh, fleet_days_refresh

pytestmark = pytest.mark.django_db
DASH = "\u2013"  # the score bands read "90-100" with an en dash


def day_of(cluster, offset, score, **fields):
    fields.setdefault("coverage", 80.0)
    fields.setdefault("open_findings", {"critical": 1, "high": 2})
    fields.setdefault("opened", 1)
    fields.setdefault("resolved", 2)
    return ClusterDay(
        cluster=cluster,
        day=timezone.localdate() - timedelta(days=offset),
        collections=1,
        score=score,
        area_scores={},
        kubernetes_version="v1.34.0",
        **fields,
    )


def history_of(cluster, *, days, score):
    ClusterDay.objects.bulk_create(day_of(cluster, offset, score) for offset in range(days))


@pytest.fixture
def fleet():
    """Two production clusters and one staging cluster, thirty days each, FleetDays refreshed."""
    clusters = {
        "prod-eu": make_cluster("prod-eu", environment="production"),
        "prod-us": make_cluster("prod-us", environment="production"),
        "stage": make_cluster("stage", environment="staging"),
    }
    for cluster, score in zip(clusters.values(), (90.0, 70.0, 40.0), strict=True):
        history_of(cluster, days=30, score=score)
    today = timezone.localdate()
    fleet_days_refresh(start=today - timedelta(days=29), end=today)
    return clusters


def url(**params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("fleet_trends") + (f"?{query}" if query else "")


def test_it_draws_the_whole_fleet(auditor, fleet):
    response = auditor.get(url())

    assert response.status_code == 200
    html = response.content.decode()
    trend = response.context["trend"]
    assert trend.period.key == "90d"
    score = chart(html, "fleet-score")
    for name in ("Mean", "Median", "10th percentile", "90th percentile"):
        assert f">{name}</text>" in score
    today = timezone.localdate()
    row = {r.at: r.cells for r in trend.score.rows}[today]
    assert row == ("3", "66.7", "70.0", "40.0", "90.0")  # clusters, mean, median, p10, p90
    assert {r.at: r.cells for r in trend.score.rows}[today - timedelta(days=40)] == ("—",) * 5
    findings = {r.at: r.cells for r in trend.findings.rows}[today]
    assert findings == ("3", "6", "0", "0", "9")
    assert {r.at: r.cells for r in trend.flow.rows}[today - timedelta(days=today.weekday())] == (
        str(3 * (today.weekday() + 1)),
        str(6 * (today.weekday() + 1)),
    )
    snapshot = trend.snapshot
    assert (snapshot.day, snapshot.clusters, snapshot.scored) == (today, 3, 3)
    distribution = {r.label: r.cells[0] for r in trend.distribution.rows}
    assert distribution[f"90{DASH}100"] == distribution[f"70{DASH}79"] == "1"
    assert distribution[f"40{DASH}49"] == "1"
    assert distribution["No score"] == "0"
    assert f"<title>1 cluster scored 90{DASH}100</title>" in chart(html, "fleet-distribution")
    for chart_id in ("fleet-coverage", "fleet-findings", "fleet-flow"):
        assert "No data for this period" not in chart(html, chart_id)


def test_it_narrows_to_one_environment_from_its_fleet_days(engineer, fleet):
    finding(fleet["stage"], 1, severity="high", opened_at=timezone.now() - timedelta(days=9))
    opened = timezone.now() - timedelta(days=5)
    finding(
        fleet["prod-eu"],
        2,
        severity="high",
        opened_at=opened,
        resolved_at=opened + timedelta(hours=3),
    )
    fleet_day_refresh(day=timezone.localdate())  # the beat's refresh keeps time to fix

    response = engineer.get(url(environment="production", range="30d"))

    trend = response.context["trend"]
    assert trend.environment == "production"
    today = timezone.localdate()
    assert {r.at: r.cells for r in trend.score.rows}[today] == (
        "2",
        "80.0",
        "80.0",
        "70.0",
        "90.0",
    )
    assert {r.at: r.cells for r in trend.coverage.rows}[today] == ("80.0%",)
    assert {r.at: r.cells for r in trend.findings.rows}[today] == ("2", "4", "0", "0", "6")
    assert {r.at: r.cells for r in trend.flow.rows}[today] == ("2", "4")
    assert (trend.snapshot.clusters, trend.snapshot.mean, trend.snapshot.median) == (2, 80.0, 80.0)
    fixes = {row.severity: row for row in trend.fixes}
    assert (fixes["high"].fixed, fixes["high"].average, fixes["high"].open) == (1, "3 h 0 min", 0)
    html = response.content.decode()
    assert ">10th percentile</text>" in chart(html, "fleet-score")
    assert '<option value="production" selected>production</option>' in html


def test_it_shows_the_whole_fleet_for_an_unknown_environment(engineer, fleet):
    response = engineer.get(url(environment="nowhere"))

    assert response.context["trend"].environment == ""
    assert response.context["trend"].snapshot.clusters == 3


def test_it_ranks_the_worst_movers_of_the_week(engineer):
    today_and_week_ago = {
        "falling-fast": (60.0, 80.0),
        "falling-slowly": (85.0, 90.0),
        "rising": (75.0, 70.0),
        "falling": (40.0, 50.0),
        "steady": (66.0, 66.0),
    }
    rows = []
    for name, (now, then) in today_and_week_ago.items():
        cluster = make_cluster(name)
        rows += [day_of(cluster, 0, now), day_of(cluster, 7, then)]
    new = make_cluster("new")  # nothing a week ago: no change to measure
    unscored = make_cluster("unscored")
    rows += [day_of(new, 0, 10.0), day_of(unscored, 0, None), day_of(unscored, 8, 99.0)]
    stale = make_cluster("stale")  # latest two days ago, a week ago from nine days back
    rows += [day_of(stale, 2, 30.0), day_of(stale, 9, 99.0), day_of(stale, 12, 10.0)]
    ClusterDay.objects.bulk_create(rows)

    response = engineer.get(url())

    movers = response.context["trend"].movers
    assert [(m.name, round(m.change, 1)) for m in movers] == [
        ("stale", -69.0),
        ("falling-fast", -20.0),
        ("falling", -10.0),
        ("falling-slowly", -5.0),
    ]
    html = response.content.decode()
    assert f'href="{reverse("cluster_trends", args=["falling-fast"])}"' in html
    movers_chart = chart(html, "fleet-movers")
    assert "falling-fast: 80.0 on " in movers_chart and "to 60.0 on" in movers_chart
    assert "rising" not in movers_chart
    # No FleetDay rows yet: the distribution comes from the clusters' latest rollups.
    assert response.context["trend"].snapshot.clusters == 8
    assert response.context["trend"].snapshot.distribution["none"] == 1


def test_it_shows_at_most_ten_movers(engineer):
    rows = []
    for number in range(12):
        cluster = make_cluster(f"c{number:02d}")
        rows += [day_of(cluster, 0, 50.0 - number), day_of(cluster, 7, 80.0)]
    ClusterDay.objects.bulk_create(rows)

    movers = engineer.get(url()).context["trend"].movers

    assert [m.name for m in movers] == [f"c{n:02d}" for n in range(11, 1, -1)]


def test_it_says_no_history_yet_for_an_empty_fleet(engineer):
    make_cluster("fresh")

    response = engineer.get(url())

    assert response.status_code == 200
    assert "No history yet" in response.content.decode()
    assert "<svg" not in response.content.decode()


def test_it_prefers_the_latest_fleet_day_for_the_distribution(engineer, fleet):
    FleetDay.objects.filter(day=timezone.localdate()).update(
        distribution={"0": 7, "none": 2}, clusters=9, scored=7
    )

    snapshot = engineer.get(url()).context["trend"].snapshot

    assert (snapshot.clusters, snapshot.scored, snapshot.distribution["0"]) == (9, 7, 7)


def count_queries(client, address: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(address).status_code == 200
    return len(queries)


def grow(count: int, start: int) -> None:
    environments = ("production", "staging")
    for number in range(start, start + count):
        cluster = make_cluster(f"cluster-{number:03d}", environment=environments[number % 2])
        history_of(cluster, days=15, score=50.0 + number)
    today = timezone.localdate()
    fleet_days_refresh(start=today - timedelta(days=14), end=today)


def test_it_runs_the_same_few_queries_for_2_and_20_clusters(engineer, settings):
    settings.RAMPART_TREND_CACHE_SECONDS = 0  # count the work, not the cache
    addresses = [url(), url(range="1y"), url(environment="production", range="30d")]
    grow(2, 0)
    small = [count_queries(engineer, address) for address in addresses]
    grow(18, 2)

    large = [count_queries(engineer, address) for address in addresses]

    assert small == large
    # Four for the page (environments, series, latest FleetDay with its time to fix, the
    # week), the rest for the session, the user, permissions and the context processors.
    assert max(large) <= 10


def test_it_computes_time_to_fix_itself_until_todays_fleet_day_exists(engineer, fleet, settings):
    settings.RAMPART_TREND_CACHE_SECONDS = 0  # count the work, not the cache
    FleetDay.objects.filter(day=timezone.localdate()).delete()
    opened = timezone.now() - timedelta(days=2)
    finding(fleet["stage"], 1, severity="high", opened_at=opened, resolved_at=opened)

    live = count_queries(engineer, url())
    fixes = {row.severity: row for row in engineer.get(url()).context["trend"].fixes}
    fleet_day_refresh(day=timezone.localdate())

    assert fixes["high"].fixed == 1
    assert count_queries(engineer, url()) == live - 2
    stored = {row.severity: row for row in engineer.get(url()).context["trend"].fixes}
    assert stored == fixes


def test_it_renders_no_inline_style_or_script(engineer, fleet):
    for address in (url(), url(range="1y"), url(environment="staging")):
        html = engineer.get(address).content.decode()
        assert not re.search(r"<[^>]*\sstyle\s*=|<style\b", html, re.IGNORECASE), address
        assert not re.search(r"<script(?![^>]*\bsrc=)", html, re.IGNORECASE), address


def test_it_requires_a_login(client):
    response = client.get(url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lets_every_role_read_it_and_nobody_else(admin, engineer, auditor, outsider, fleet):
    for persona in (admin, engineer, auditor):
        assert persona.get(url()).status_code == 200
    assert outsider.get(url()).status_code == 403
