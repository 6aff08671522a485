"""Every page has the main navigation and a breadcrumb; alerts, notifications and users are in
the navigation for those who may open them."""

import pytest
from django.urls import reverse

from clusters.tests.factories import make_cluster, make_evaluation

pytestmark = pytest.mark.django_db


def _pages(user_pk):
    cluster = "prod-eu"
    return [
        reverse("fleet"),
        reverse("cluster_register"),
        reverse("cluster_detail", args=[cluster]),
        reverse("check_detail", args=[cluster, "test.cluster-admin-bindings"]),
        reverse("cluster_trends", args=[cluster]),
        reverse("cluster_compare", args=[cluster]),
        reverse("guide_index", args=[cluster]),
        reverse("checklist", args=[cluster, "cis-kubernetes"]),
        reverse("waiver_list", args=[cluster]),
        reverse("fleet_trends"),
        reverse("fleet_drift"),
        reverse("catalog"),
        reverse("score_formula"),
        reverse("audit_log"),
        reverse("alerts_subscriptions"),
        reverse("alerts_notifications"),
        reverse("user_list"),
        reverse("user_create"),
        reverse("user_change", args=[user_pk]),
        reverse("password_change"),
        reverse("password_change_done"),
    ]


def test_every_page_has_the_navigation_and_one_breadcrumb(admin, known_checks):
    make_evaluation(
        make_cluster("prod-eu"),
        results=[{"check_id": "test.cluster-admin-bindings", "status": "fail"}],
    )

    for url in _pages(admin.user.pk):
        response = admin.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert body.count('class="breadcrumbs"') == 1, url
        assert 'aria-label="Main"' in body, url
        if url != reverse("fleet"):
            assert f'<a href="{reverse("fleet")}">Fleet</a> \u203a' in body, url


def test_the_navigation_offers_alerts_notifications_and_users_by_permission(admin, auditor):
    admin_body = admin.get(reverse("fleet")).content.decode()
    auditor_body = auditor.get(reverse("fleet")).content.decode()

    for url in ("alerts_subscriptions", "alerts_notifications", "user_list", "password_change"):
        assert f'href="{reverse(url)}"' in admin_body
    assert f'href="{reverse("alerts_subscriptions")}"' in auditor_body
    assert f'href="{reverse("password_change")}"' in auditor_body
    assert f'href="{reverse("alerts_notifications")}"' not in auditor_body
    assert f'href="{reverse("user_list")}"' not in auditor_body


def test_the_current_page_is_marked_in_the_navigation(admin):
    body = admin.get(reverse("alerts_subscriptions")).content.decode()

    assert f'<a href="{reverse("alerts_subscriptions")}" aria-current="page">Alerts</a>' in body
