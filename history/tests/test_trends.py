"""One cluster's trend page: daily rollups as charts and tables, with upgrades and waivers."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters.tests.factories import make_cluster
from compliance.models import Waiver
from history.trends import duration_text, period_get
from posture.models import ClusterDay, Finding

pytestmark = pytest.mark.django_db

CHECK = "test.cluster-admin-bindings"


def area_scores(score: float) -> dict[str, dict[str, float]]:
    return {
        "patching": {"score": score, "coverage": 100.0},
        "network": {"score": score - 5, "coverage": 90.0},
        "access": {"score": score - 10, "coverage": 100.0},
        "isolation": {"score": score + 2, "coverage": 80.0},
        "supply_chain": {"score": score - 1, "coverage": 70.0},
    }


def record_days(cluster, *, days, skip=(), version=lambda offset: "v1.34.4", today=None):
    """Daily rollups for the last `days` days; `skip` holds offsets back from today (0 = today)."""
    today = today or timezone.localdate()
    ClusterDay.objects.bulk_create(
        ClusterDay(
            cluster=cluster,
            day=today - timedelta(days=offset),
            collections=1,
            score=60.0 + (days - offset) * 0.25,
            lowest_score=55.0,
            coverage=90.0,
            area_scores=area_scores(60.0 + (days - offset) * 0.25),
            open_findings={"critical": 1, "high": 2, "medium": offset % 4, "low": 3},
            opened=offset % 3,
            resolved=1,
            kubernetes_version=version(offset),
        )
        for offset in range(days)
        if offset not in skip
    )


def at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def waiver(cluster, **fields) -> Waiver:
    now = timezone.now()
    fields.setdefault("requested_at", now - timedelta(days=30))
    fields.setdefault("expires_at", now + timedelta(days=30))
    fields.setdefault("check_id", CHECK)
    return Waiver.objects.create(
        cluster=cluster,
        owner_email="platform@example.com",
        reason="Replaced next sprint.",
        **fields,
    )


def finding(cluster, number, *, severity, opened_at, resolved_at=None) -> Finding:
    return Finding.objects.create(
        cluster=cluster,
        check_id=CHECK,
        fingerprint=f"fp-{cluster.pk}-{number}",
        severity=severity,
        status=Finding.Status.RESOLVED if resolved_at else Finding.Status.OPEN,
        first_seen_at=opened_at,
        last_seen_at=resolved_at or opened_at,
        opened_at=opened_at,
        resolved_at=resolved_at,
    )


def trends_url(cluster, period: str | None = None) -> str:
    url = reverse("cluster_trends", args=[cluster.name])
    return f"{url}?range={period}" if period else url


def chart(html: str, chart_id: str) -> str:
    """The one `<svg>` whose id is `chart_id`."""
    match = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.DOTALL)
    assert match, chart_id
    return match.group(0)


@pytest.fixture
def cluster():
    return make_cluster("prod-eu")


def test_it_draws_ninety_days_with_an_upgrade_and_a_waiver(engineer, cluster):
    today = timezone.localdate()
    record_days(cluster, days=90, version=lambda offset: "v1.34.4" if offset > 20 else "v1.35.2")
    waiver(cluster, approved_at=at_noon(today - timedelta(days=10)))

    response = engineer.get(trends_url(cluster))

    assert response.status_code == 200
    html = response.content.decode()
    score = chart(html, "trend-score")
    upgrade_day = (today - timedelta(days=20)).isoformat()
    waiver_day = (today - timedelta(days=10)).isoformat()
    assert f"<title>{upgrade_day} — Upgraded to v1.35.2</title>" in score
    assert f"<title>{waiver_day} — Waiver approved: {CHECK}</title>" in score
    assert "marker-upgrade" in score and "marker-waiver" in score
    assert "Upgraded to v1.35.2" in chart(html, "trend-areas")
    for chart_id in ("trend-coverage", "trend-findings", "trend-flow"):
        assert "No data for this period" not in chart(html, chart_id)
    assert html.count("<summary>Show data</summary>") == 5
    assert reverse("cluster_compare", args=[cluster.name]) in html
    assert cluster.get_absolute_url() in html
    trend = response.context["trend"]
    assert [event.label for event in trend.events] == [
        "Upgraded to v1.35.2",
        f"Waiver approved: {CHECK}",
    ]
    assert trend.days_with_data == 90
    assert trend.latest_score == pytest.approx(82.5)


def test_it_marks_a_revoked_and_an_expired_waiver(auditor, cluster):
    today = timezone.localdate()
    record_days(cluster, days=30)
    waiver(
        cluster,
        approved_at=at_noon(today - timedelta(days=200)),
        revoked_at=at_noon(today - timedelta(days=5)),
        requested_at=at_noon(today - timedelta(days=201)),
    )
    waiver(
        cluster,
        requested_at=at_noon(today - timedelta(days=200)),
        approved_at=at_noon(today - timedelta(days=199)),
        expires_at=at_noon(today - timedelta(days=3)),
    )
    waiver(  # never approved: its expiry is no event
        cluster,
        requested_at=at_noon(today - timedelta(days=20)),
        expires_at=at_noon(today - timedelta(days=2)),
    )

    response = auditor.get(trends_url(cluster, "30d"))

    labels = [event.label for event in response.context["trend"].events]
    assert labels == [f"Waiver revoked: {CHECK}", f"Waiver expired: {CHECK}"]
    assert f"Waiver expired: {CHECK}</title>" in chart(response.content.decode(), "trend-score")


def test_it_marks_an_upgrade_on_the_first_day_of_the_range(engineer, cluster):
    record_days(cluster, days=40, version=lambda offset: "v1.33.1" if offset >= 30 else "v1.34.0")

    response = engineer.get(trends_url(cluster, "30d"))

    assert [e.label for e in response.context["trend"].events] == ["Upgraded to v1.34.0"]


def test_it_ignores_an_unknown_version(engineer, cluster):
    record_days(cluster, days=10, version=lambda offset: "" if offset == 5 else "v1.34.0")

    response = engineer.get(trends_url(cluster))

    assert response.context["trend"].events == ()


def test_it_defaults_to_ninety_days_and_switches_ranges(engineer, cluster):
    record_days(cluster, days=400)

    default = engineer.get(trends_url(cluster)).context["trend"]
    unknown = engineer.get(trends_url(cluster, "forever")).context["trend"]
    month = engineer.get(trends_url(cluster, "30d")).context["trend"]
    year = engineer.get(trends_url(cluster, "1y")).context["trend"]

    assert default.period.key == unknown.period.key == "90d"
    assert len(default.score.rows) == 90
    assert len(month.score.rows) == 30
    assert month.start == timezone.localdate() - timedelta(days=29)
    assert year.days_with_data == 365
    # A year of rows would dwarf the page: its tables go by week.
    assert 52 <= len(year.score.rows) <= 54
    assert year.score.rows[0].label.startswith("Week of ")
    assert year.score.headers[0] == "Week of"
    # Opened vs resolved: daily bars for a month, weekly beyond.
    assert len(month.flow.rows) == 30
    assert 13 <= len(default.flow.rows) <= 14


def test_it_links_each_range_and_marks_the_current_one(engineer, cluster):
    record_days(cluster, days=3)

    html = engineer.get(trends_url(cluster, "1y")).content.decode()

    assert '<a href="?range=1y" aria-current="page">1 year</a>' in html
    assert '<a href="?range=30d">30 days</a>' in html


def test_it_leaves_a_gap_for_a_day_without_a_rollup(engineer, cluster):
    today = timezone.localdate()
    record_days(cluster, days=20, skip={5})

    response = engineer.get(trends_url(cluster, "30d"))

    trend = response.context["trend"]
    missing = today - timedelta(days=5)
    rows = {row.at: row.cells for row in trend.score.rows}
    assert rows[missing] == ("—",)
    assert rows[missing - timedelta(days=1)] == ("63.5",)
    assert {row.at: row.cells for row in trend.coverage.rows}[missing] == ("—",)
    assert {row.at: row.cells for row in trend.flow.rows}[missing] == ("—", "—")
    # Days before the first rollup are gaps too, not zeros.
    assert rows[today - timedelta(days=29)] == ("—",)
    score = chart(response.content.decode(), "trend-score")
    assert score.count("<polyline") == 2  # the line breaks at the gap
    assert f"{missing.isoformat()} — Score" not in score


def test_it_shows_no_history_yet_for_a_new_cluster(engineer, cluster):
    response = engineer.get(trends_url(cluster))

    assert response.status_code == 200
    html = response.content.decode()
    assert "No history yet" in html
    assert "<svg" not in html
    assert "No finding has been opened yet." in html


def test_it_says_when_the_range_is_older_than_the_history(engineer, cluster):
    record_days(cluster, days=5, today=timezone.localdate() - timedelta(days=60))

    response = engineer.get(trends_url(cluster, "30d"))

    html = response.content.decode()
    assert "No history yet" not in html
    assert "No collection in the last 30 days" in html
    assert "No data for this period" in chart(html, "trend-score")


def test_it_shows_time_to_fix_and_what_is_still_open(engineer, cluster):
    now = timezone.now()
    opened = now - timedelta(days=20)
    finding(
        cluster, 1, severity="critical", opened_at=opened, resolved_at=opened + timedelta(days=2)
    )
    finding(
        cluster,
        2,
        severity="critical",
        opened_at=opened,
        resolved_at=opened + timedelta(days=4, hours=8),
    )
    finding(cluster, 3, severity="low", opened_at=now - timedelta(hours=5, minutes=30))
    finding(cluster, 4, severity="critical", opened_at=now - timedelta(days=6, hours=2))
    other = make_cluster("elsewhere")
    finding(
        other, 5, severity="critical", opened_at=opened, resolved_at=opened + timedelta(days=90)
    )

    response = engineer.get(trends_url(cluster))

    fixes = {row.severity: row for row in response.context["trend"].fixes}
    assert list(fixes) == ["critical", "low"]
    critical = fixes["critical"]
    assert (critical.fixed, critical.average, critical.longest) == (2, "3 d 4 h", "4 d 8 h")
    assert (critical.open, critical.oldest_open) == (1, "6 d 2 h")
    assert (fixes["low"].fixed, fixes["low"].average, fixes["low"].open) == (0, "—", 1)
    assert fixes["low"].oldest_open == "5 h 30 min"
    assert "3 d 4 h" in response.content.decode()


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(days=3, hours=4, minutes=59), "3 d 4 h"),
        (timedelta(hours=5, minutes=12), "5 h 12 min"),
        (timedelta(minutes=12, seconds=5), "12 min"),
        (timedelta(seconds=40), "40 s"),
        (None, "—"),
    ],
)
def test_it_writes_durations_for_people(duration, text):
    assert duration_text(duration) == text


def test_it_falls_back_to_ninety_days():
    assert period_get(None).key == period_get("").key == period_get("2y").key == "90d"


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_it_runs_the_same_few_queries_however_long_the_history(engineer, cluster, settings):
    """2 then 20 clusters (one year each): the page's query count does not move."""
    settings.RAMPART_TREND_CACHE_SECONDS = 0  # count the work, not the cache
    for number in range(2):
        record_days(make_cluster(f"small-{number}"), days=365)
    record_days(cluster, days=365, version=lambda o: "v1.35.0" if o < 100 else "v1.34.0")
    waiver(cluster, approved_at=timezone.now() - timedelta(days=3))
    finding(cluster, 1, severity="high", opened_at=timezone.now() - timedelta(days=1))
    small = {
        period: count_queries(engineer, trends_url(cluster, period)) for period in ("30d", "1y")
    }
    for number in range(18):
        record_days(make_cluster(f"large-{number}"), days=365)

    large = {
        period: count_queries(engineer, trends_url(cluster, period)) for period in ("30d", "1y")
    }

    assert small == large
    # Six for the page (cluster, rollups, version before, waivers, time to fix x2), the rest
    # for the session, the user, permissions and the context processors.
    assert max(large.values()) <= 12


def test_it_renders_no_inline_style_or_script(engineer, cluster):
    record_days(cluster, days=90, skip={3}, version=lambda o: "v1.35.0" if o < 10 else "v1.34.0")
    waiver(cluster, approved_at=timezone.now() - timedelta(days=3))

    for period in ("30d", "90d", "1y"):
        html = engineer.get(trends_url(cluster, period)).content.decode()
        assert not re.search(r"<[^>]*\sstyle\s*=|<style\b", html, re.IGNORECASE), period
        assert not re.search(r"<script(?![^>]*\bsrc=)", html, re.IGNORECASE), period
        assert "css/charts.css" in html


def test_it_escapes_a_check_id_in_a_marker(engineer, cluster):
    record_days(cluster, days=10)
    waiver(cluster, approved_at=timezone.now() - timedelta(days=1), check_id="<b>&x")

    html = engineer.get(trends_url(cluster)).content.decode()

    assert "Waiver approved: &lt;b&gt;&amp;x</title>" in html
    assert "<b>&x" not in html


def test_it_requires_a_login(client, cluster):
    response = client.get(trends_url(cluster))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lets_every_role_read_it_and_nobody_else(admin, engineer, auditor, outsider, cluster):
    record_days(cluster, days=3)

    for persona in (admin, engineer, auditor):
        assert persona.get(trends_url(cluster)).status_code == 200
    assert outsider.get(trends_url(cluster)).status_code == 403
    assert engineer.get(reverse("cluster_trends", args=["no-such"])).status_code == 404


def test_it_refuses_a_post(engineer, cluster):
    assert engineer.post(trends_url(cluster)).status_code == 405


def test_it_serves_the_charts_from_cache_until_a_new_collection_lands(engineer, cluster):
    from clusters.tests.factories import make_evaluation

    record_days(cluster, days=30)
    address = trends_url(cluster, "30d")
    first = count_queries(engineer, address)
    cached = engineer.get(address)

    assert count_queries(engineer, address) < first
    charts = re.findall(rb"<svg.*?</svg>", cached.content, re.DOTALL)
    assert charts and charts == re.findall(
        rb"<svg.*?</svg>", engineer.get(address).content, re.DOTALL
    )
    make_evaluation(cluster, results=[{"check_id": "test.latest-tags", "status": "fail"}])
    assert count_queries(engineer, address) == first  # a new latest evaluation: rebuilt
