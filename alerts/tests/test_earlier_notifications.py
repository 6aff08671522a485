"""Notifications recorded before grouping (one regression each) survive the upgrade: they count
as told, still read in the log, and one left pending is still sent, in the grouped format."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.core import mail

from alerts import delivery, services
from alerts.models import Notification, NotificationEntry
from alerts.regressions import Kind, Occasion, OccasionKind, Regression
from clusters.tests.factories import make_cluster

pytestmark = pytest.mark.django_db
MIGRATION = import_module("alerts.migrations.0005_entries_for_earlier_notifications")
WAIVER_KEY = "cluster:{}:waiver:11:waiver_expiring:2025-03-13T12:00:00+00:00"


def earlier(cluster, kind: str, key: str, status: str, **payload: object) -> Notification:
    return Notification.objects.create(
        recipient="owner@example.com",
        cluster=cluster,
        kind=kind,
        severity="high",
        dedup_key=key,
        subject=f"[Rampart] prod: {payload.get('title', '')}",
        status=status,
        payload={"kind": kind, "cluster": cluster.name, "severity": "high", **payload},
    )


def test_it_keeps_earlier_notifications_told_readable_and_sendable(admin) -> None:
    cluster = make_cluster("prod", owners=["owner@example.com"])
    expiring = earlier(
        cluster,
        "waiver_expiring",
        WAIVER_KEY.format(cluster.pk),
        "sent",
        title="waiver of CSR approvers expires in 3 days",
        summary="The waiver expires soon.",
        facts=[["Check", "CSR approvers"]],
        link="/clusters/prod/waivers/#waiver-11",
    )
    pending = earlier(
        cluster,
        "new_findings",
        f"cluster:{cluster.pk}:evaluation:2:new_findings:isolation.privileged",
        "pending",
        title="1 new high finding(s): Privileged containers",
        summary="isolation.privileged (high) fails on 1 new object(s).",
        check_id="isolation.privileged",
        evidence=[
            {"kind": "Deployment", "namespace": "web", "name": "api", "detail": "privileged"}
        ],
        evidence_total=3,
    )
    MIGRATION.forwards(apps, None)
    MIGRATION.forwards(apps, None)  # a second run changes nothing

    assert NotificationEntry.objects.count() == 2
    expiring.refresh_from_db()
    assert "format" not in expiring.payload  # sent ones stay as they were
    # The expiry it told is not told again by the hourly scan.
    again = Regression(
        Kind.WAIVER_EXPIRING, cluster.pk, "prod", "high", expiring.dedup_key, "t", "s"
    )
    occasion = Occasion(OccasionKind.EXPIRIES, cluster.pk, "prod", "cluster:1:expiries:x")
    assert services.notifications_record(occasions=[(occasion, [again])]) == []

    assert delivery.notification_send(notification_id=pending.pk)
    [message] = mail.outbox
    assert message.subject == "[Rampart] prod: 1 new high finding(s): Privileged containers"
    assert "  - Deployment web/api: privileged" in message.body
    assert "  ... and 2 more on the check page." in message.body
    assert b"1 new high finding(s)" in admin.get("/alerts/notifications/").content
