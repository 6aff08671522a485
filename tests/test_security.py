"""Rampart's own security: logins, roles, the CSP, and credentials that never come back out."""

import re
import uuid

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter

from clusters import kube
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

# Every state-changing endpoint of the dashboard, with the body a permitted person would send.
POSTS = {
    "cluster_collect": lambda: {},
    "cluster_test_connection": lambda: {},
    "cluster_upload": lambda: {"bundle": SimpleUploadedFile("b.tar.gz", bundle_bytes())},
    "cluster_register": lambda: {
        "name": "another",
        "source_kind": "kubeconfig",
        "kubeconfig": kubeconfig(),
    },
}


@pytest.fixture
def fleet(engineer, known_checks):
    """A cluster registered through the form with a token, evaluated; and a bundle cluster."""
    response = engineer.post(
        reverse("cluster_register"),
        {"name": "prod-eu", "source_kind": "kubeconfig", "kubeconfig": kubeconfig()},
    )
    assert response.status_code == 302
    live = Cluster.objects.get(name="prod-eu")
    live.runs.update(status=CollectionRun.Status.FAILED, last_error="unreachable")
    make_evaluation(
        live,
        results=[
            {"check_id": "test.cluster-admin-bindings", "status": "fail", "affected": affected(3)},
            {"check_id": "test.default-deny", "status": "unknown", "summary": "forbidden"},
        ],
    )
    bundle = make_cluster("air-gapped", environment="staging", source_kind="bundle")
    make_run(bundle, status=CollectionRun.Status.RUNNING, trigger="upload")
    return {"live": live, "bundle": bundle}


def url_patterns(*, apps=None):
    """(pattern, urls module, namespace) for every URL, walked from the root URLconf."""
    found = []

    def walk(patterns, module, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = getattr(pattern.urlconf_module, "__name__", module)
                walk(pattern.url_patterns, inner, pattern.namespace or namespace)
            elif apps is None or module in apps:
                found.append((pattern, module, namespace))

    walk(get_resolver().url_patterns, "", None)
    return found


def dashboard_patterns():
    """Every URL of the dashboard's apps, found in the URLconf rather than listed."""
    apps = {"clusters.urls", "posture.urls", "history.urls"}
    return [pattern for pattern, _, _ in url_patterns(apps=apps)]


SAMPLE_ARGUMENTS = {"name": "prod-eu", "check_id": "test.cluster-admin-bindings"}


def url_for(pattern, namespace=None):
    """A URL for the pattern, with real objects where known and placeholders elsewhere."""
    kwargs: dict[str, object] = {}
    for key, converter in pattern.pattern.converters.items():  # type: ignore[attr-defined]
        if key in SAMPLE_ARGUMENTS:
            kwargs[key] = SAMPLE_ARGUMENTS[key]
        elif isinstance(converter, IntConverter):
            kwargs[key] = 1
        elif isinstance(converter, UUIDConverter):
            kwargs[key] = uuid.UUID(int=1)
        else:
            kwargs[key] = "placeholder"
    name = f"{namespace}:{pattern.name}" if namespace else pattern.name
    return reverse(name, kwargs=kwargs)


def get_pages(fleet):
    live, bundle = fleet["live"], fleet["bundle"]
    return [
        reverse("fleet"),
        reverse("fleet") + "?sort=score&environment=production",
        reverse("cluster_register"),
        reverse("score_formula"),
        *(reverse("cluster_detail", args=[c.name]) for c in (live, bundle)),
        *(reverse("cluster_runs_partial", args=[c.name]) for c in (live, bundle)),
        reverse("check_detail", args=[live.name, "test.cluster-admin-bindings"]),
        reverse("check_detail", args=[live.name, "test.default-deny"]),
        reverse("fleet_trends"),
        reverse("fleet_trends") + "?environment=production&range=1y",
        reverse("fleet_drift"),
        reverse("fleet_drift") + "?only=all&environment=production",
        *(reverse("cluster_trends", args=[c.name]) for c in (live, bundle)),
        *(reverse("cluster_compare", args=[c.name]) for c in (live, bundle)),
    ]


def test_it_covers_every_dashboard_url(fleet):
    names = {pattern.name for pattern in dashboard_patterns()}

    assert names >= {"fleet", "cluster_detail", "check_detail", "score_formula", *POSTS}
    assert names >= {"fleet_trends", "fleet_drift", "cluster_trends", "cluster_compare"}


# Public on purpose: the login page and the two legs of single sign-on (404 unless enabled), and
# unsubscribing from an email link, which is authorised by the signed token in the link and
# changes nothing except that one subscription.
PUBLIC_PAGES = {"login", "sso_start", "sso_callback", "alerts_unsubscribe"}


def test_it_requires_a_login_for_every_url(client, fleet):
    """Every URL of every app, except those explicitly marked as public."""
    login = reverse("login")
    checked = 0
    for pattern, _, namespace in url_patterns():
        if namespace == "admin" or not pattern.name:
            continue  # the admin site has its own login, which it enforces
        if getattr(pattern.callback, "login_required", True) is False:
            assert pattern.name in PUBLIC_PAGES, f"{pattern.name} is marked login_not_required"
            continue
        url = url_for(pattern, namespace)
        checked += 1
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(f"{login}?next="), url
    assert checked >= len(dashboard_patterns())


def test_it_shows_the_login_page_to_anyone(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_it_forbids_an_auditor_every_post(auditor, fleet):
    runs_before = CollectionRun.objects.count()
    for name, body in POSTS.items():
        cluster = fleet["bundle"] if name == "cluster_upload" else fleet["live"]
        args = [] if name == "cluster_register" else [cluster.name]
        response = auditor.post(reverse(name, args=args), body())
        assert response.status_code == 403, name
    for pattern in dashboard_patterns():
        response = auditor.post(url_for(pattern))
        assert response.status_code in (403, 405), pattern.name
    assert CollectionRun.objects.count() == runs_before
    assert Cluster.objects.count() == 2


def test_it_forbids_a_person_without_a_role_every_page(outsider, fleet):
    for url in get_pages(fleet):
        if url == reverse("score_formula"):
            continue  # the formula is public knowledge for anyone logged in
        assert outsider.get(url).status_code == 403, url


def csp_directives(response):
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_it_sends_a_strict_content_security_policy(engineer, fleet):
    for url in get_pages(fleet):
        response = engineer.get(url)
        assert response.status_code == 200, url
        directives = csp_directives(response)
        assert directives["default-src"] == ["'none'"], url
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert "unsafe" not in repr(settings.CONTENT_SECURITY_POLICY)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|<[^>]*\sstyle\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


def test_it_renders_no_inline_script_or_style_on_any_page(engineer, admin, fleet, client):
    pages = [(engineer, url) for url in get_pages(fleet)]
    pages.append((client, reverse("login")))
    for persona, url in pages:
        html = persona.get(url).content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not EVENT_HANDLER.search(html), url
        assert not INLINE_STYLE.search(html), url
        assert not JAVASCRIPT_URL.search(html), url
        for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', html):
            assert src.startswith("/static/js/"), src


def test_it_never_renders_the_credentials(engineer, admin, fleet, monkeypatch):
    live = fleet["live"]
    monkeypatch.setattr(
        kube,
        "test_connection",
        lambda credentials, *, timeout: kube.ConnectionReport(
            ok=False, error=f"401 for Authorization: Bearer {credentials.token}"
        ),
    )
    pages = [(persona, url) for persona in (engineer, admin) for url in get_pages(fleet)]
    pages += [
        (admin, reverse("admin:clusters_cluster_changelist")),
        (admin, reverse("admin:clusters_cluster_change", args=[live.pk])),
    ]
    for persona, url in pages:
        response = persona.get(url)
        assert response.status_code == 200, url
        assert TOKEN not in response.content.decode(), url
    tested = engineer.post(reverse("cluster_test_connection", args=[live.name]))
    assert TOKEN not in tested.content.decode()
    failed = engineer.post(
        reverse("cluster_register"),
        {"name": "prod-eu", "source_kind": "kubeconfig", "kubeconfig": kubeconfig()},
    )
    assert "already registered" in failed.content.decode()
    assert TOKEN not in failed.content.decode()
