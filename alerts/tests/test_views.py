"""The notification log and test email (admins), subscriptions, and unsubscribing by link."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from alerts.messages import unsubscribe_token
from alerts.models import Notification, Subscription
from alerts.tasks import send_notification
from clusters.models import ClusterOwner
from clusters.tests.factories import make_cluster

pytestmark = pytest.mark.django_db
LOG = reverse("alerts_notifications")
TEST = reverse("alerts_test_email")
SUBSCRIPTIONS = reverse("alerts_subscriptions")


def test_it_shows_the_notification_log_to_admins_only(admin, engineer, auditor, outsider) -> None:
    Notification.objects.create(
        recipient="owner@example.com",
        kind="score_drop",
        dedup_key="k",
        subject="[Rampart] prod: score fell",
        status="failed",
        error="SMTPRecipientsRefused: no such user",
    )
    page = admin.get(LOG)
    assert page.status_code == 200
    assert b"owner@example.com" in page.content and b"no such user" in page.content
    for persona in (engineer, auditor, outsider):
        assert persona.get(LOG).status_code == 403


def test_it_sends_a_test_email_for_an_admin(admin, django_capture_on_commit_callbacks) -> None:
    with (
        mock.patch.object(send_notification, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin.post(TEST, {"recipient": "ops@example.com"})
    assert response.status_code == 302
    notification = Notification.objects.get(kind="test")
    delay.assert_called_once_with(notification.pk)
    send_notification(notification.pk)
    [message] = mail.outbox
    assert message.to == ["ops@example.com"] and message.subject == "[Rampart] Test email"
    assert "ada" in message.body
    assert b"Sent" in admin.get(LOG).content


def test_it_refuses_the_test_email_to_everyone_else(engineer, auditor) -> None:
    for persona in (engineer, auditor):
        assert persona.post(TEST, {"recipient": "ops@example.com"}).status_code == 403
    assert not Notification.objects.exists()


def test_it_lets_an_engineer_subscribe_and_unsubscribe(engineer) -> None:
    make_cluster("prod")
    response = engineer.post(
        SUBSCRIPTIONS, {"cluster": "prod", "min_severity": "medium", "delivery": "digest"}
    )
    assert response.status_code == 302
    subscription = Subscription.objects.get(user=engineer.user)
    assert subscription.cluster is not None
    assert (subscription.cluster.name, subscription.min_severity, subscription.delivery) == (
        "prod",
        "medium",
        "digest",
    )
    engineer.post(SUBSCRIPTIONS, {"cluster": "", "min_severity": "high", "delivery": "immediate"})
    assert Subscription.objects.filter(user=engineer.user, cluster__isnull=True).exists()
    assert b"Every cluster" in engineer.get(SUBSCRIPTIONS).content
    delete = reverse("alerts_subscription_delete", args=[subscription.pk])
    assert engineer.post(delete).status_code == 302
    assert Subscription.objects.filter(user=engineer.user).count() == 1


def test_it_lets_an_auditor_read_but_not_subscribe(auditor) -> None:
    make_cluster("prod")
    assert auditor.get(SUBSCRIPTIONS).status_code == 200
    response = auditor.post(
        SUBSCRIPTIONS, {"cluster": "prod", "min_severity": "high", "delivery": "immediate"}
    )
    assert response.status_code == 403
    assert not Subscription.objects.exists()


def test_it_unsubscribes_from_the_email_link_without_logging_in(engineer) -> None:
    subscription = Subscription.objects.create(user=engineer.user, cluster=make_cluster("prod"))
    url = reverse(
        "alerts_unsubscribe",
        kwargs={"token": unsubscribe_token(subscription_token=subscription.unsubscribe_token)},
    )
    anonymous = Client()
    page = anonymous.get(url)
    assert page.status_code == 200 and b"erin@example.com" in page.content
    assert Subscription.objects.exists()  # following the link only asks
    assert anonymous.post(url).status_code == 200
    assert not Subscription.objects.exists()


def test_it_unsubscribes_an_owner_from_the_email_link() -> None:
    cluster = make_cluster("prod", owners=["owner@example.com"])
    url = reverse(
        "alerts_unsubscribe",
        kwargs={"token": unsubscribe_token(cluster_id=cluster.pk, email="owner@example.com")},
    )
    assert Client().post(url).status_code == 200
    assert not ClusterOwner.objects.exists()


def test_it_refuses_a_forged_unsubscribe_link(engineer) -> None:
    Subscription.objects.create(user=engineer.user, cluster=None)
    url = reverse("alerts_unsubscribe", kwargs={"token": "forged:token"})
    assert Client().post(url).status_code == 400
    assert Subscription.objects.exists()


def test_it_lists_notifications_in_constant_queries(admin, django_assert_max_num_queries) -> None:
    clusters = [make_cluster(f"c{i}") for i in range(5)]
    Notification.objects.bulk_create(
        Notification(
            recipient=f"o{i}@example.com",
            cluster=clusters[i % 5],
            kind="score_drop",
            dedup_key=f"k{i}",
            subject=f"drop {i}",
        )
        for i in range(40)
    )
    with django_assert_max_num_queries(8):
        assert admin.get(LOG).status_code == 200
