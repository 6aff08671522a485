"""Waivers and attestations about to expire or expired: detected once, emailed once.

Erin (engineer) requests a waiver of a failing check and attests a manual control, Ada (admin)
approves; the cluster's owner and Erin's fleet-wide subscription hear about the expiry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from alerts import delivery, services
from alerts.expiry_rules import AttestationSnapshot, WaiverSnapshot, detect_expiries
from alerts.models import Notification, NotificationEntry, Subscription
from alerts.regressions import Kind
from alerts.tasks import check_expiries, send_notification
from alerts.tests.conftest import Inbox, text_part
from clusters.models import Cluster, ClusterOwner
from compliance import services as compliance
from compliance.models import Attestation, Waiver
from compliance.tests.factories import evaluated_cluster

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
CHECK = "access.csr_approval"  # high, failing on the evaluated cluster


# --- Detection ----------------------------------------------------------------------------


def waiver(**changes: Any) -> WaiverSnapshot:
    fields: dict[str, Any] = {
        "waiver_id": 11,
        "check_id": CHECK,
        "check_title": "CSR approvers",
        "severity": "high",
        "expires_at": NOW + timedelta(days=3),
        "approved": True,
        "revoked": False,
        "reason": "The approver bot is replaced next sprint.",
        "owner_email": "platform@example.com",
        "approved_by": "ada",
        "approved_at": NOW - timedelta(days=20),
        "namespaces": ("ops",),
        "link": "/clusters/prod/waivers/#waiver-11",
    }
    return WaiverSnapshot(**{**fields, **changes})


def attestation(**changes: Any) -> AttestationSnapshot:
    reattest_by = changes.pop("reattest_by", date(2025, 3, 13))
    fields: dict[str, Any] = {
        "attestation_id": 21,
        "guide": "cis-kubernetes",
        "item_id": "5.6.1",
        "item_title": "Namespaces as administrative boundaries",
        "severity": "medium",
        "reattest_by": reattest_by,
        "lapses_at": datetime.combine(reattest_by + timedelta(days=1), datetime.min.time(), UTC),
        "revoked": False,
        "justification": "Namespaces map one-to-one to teams.",
        "attested_by": "erin",
        "link": "/clusters/prod/guides/cis-kubernetes/items/5.6.1/",
    }
    return AttestationSnapshot(**{**fields, **changes})


def detect(*, waivers=(), attestations=(), now=NOW):
    return detect_expiries(
        cluster_id=7, cluster_name="prod", waivers=waivers, attestations=attestations, now=now
    )


def test_it_warns_of_a_waiver_expiring_within_seven_days_not_earlier() -> None:
    [found] = detect(waivers=[waiver(expires_at=NOW + timedelta(days=7))])
    assert found.kind == Kind.WAIVER_EXPIRING
    assert found.title == "waiver of CSR approvers expires in 7 days"
    assert detect(waivers=[waiver(expires_at=NOW + timedelta(days=7, seconds=1))]) == []
    [soon] = detect(waivers=[waiver(expires_at=NOW + timedelta(minutes=20))])
    assert soon.title == "waiver of CSR approvers expires in 1 hour"


def test_it_reports_a_waiver_that_expired_within_the_lookback() -> None:
    [found] = detect(waivers=[waiver(expires_at=NOW)])
    assert found.kind == Kind.WAIVER_EXPIRED
    assert found.title == "waiver of CSR approvers expired"
    assert "expired on 2025-03-10 12:00 UTC" in found.summary
    # Older news is not news: long-expired waivers were reported when they expired.
    assert detect(waivers=[waiver(expires_at=NOW - timedelta(days=2))]) == []


def test_it_ignores_revoked_and_pending_waivers() -> None:
    assert detect(waivers=[waiver(revoked=True)]) == []
    assert detect(waivers=[waiver(approved=False)]) == []
    assert detect(waivers=[waiver(revoked=True, expires_at=NOW - timedelta(hours=1))]) == []


def test_it_ignores_a_waiver_renewed_by_a_later_one_covering_its_scope() -> None:
    expiring = waiver(namespaces=("ops",), workloads=("Deployment/ci/bot",))
    whole_check = waiver(waiver_id=12, namespaces=(), expires_at=NOW + timedelta(days=60))
    wider = replace(whole_check, namespaces=("ops", "ci"))
    narrower = replace(whole_check, namespaces=("ci",))
    pending = replace(whole_check, approved=False)
    assert detect(waivers=[expiring, whole_check]) == []
    assert detect(waivers=[expiring, wider]) == []
    assert [r.dedup_key for r in detect(waivers=[expiring, narrower])] == [
        r.dedup_key for r in detect(waivers=[expiring, pending])
    ]
    assert len(detect(waivers=[expiring, narrower])) == 1


def test_it_keys_each_waiver_by_kind_and_expiry_date() -> None:
    [expiring] = detect(waivers=[waiver()])
    assert expiring.dedup_key == ("cluster:7:waiver:11:waiver_expiring:2025-03-13T12:00:00+00:00")
    # The same instant in another zone is the same expiry: the same key.
    paris = (NOW + timedelta(days=3)).astimezone(ZoneInfo("Europe/Paris"))
    assert detect(waivers=[waiver(expires_at=paris)])[0].dedup_key == expiring.dedup_key
    [expired] = detect(waivers=[waiver()], now=NOW + timedelta(days=3, hours=1))
    assert expired.dedup_key == "cluster:7:waiver:11:waiver_expired:2025-03-13T12:00:00+00:00"
    # A new expiry date is a new warning.
    [renewed] = detect(waivers=[waiver(expires_at=NOW + timedelta(days=5))])
    assert renewed.dedup_key != expiring.dedup_key


def test_it_says_what_expires_with_the_checks_severity_and_a_link() -> None:
    [found] = detect(waivers=[waiver(severity="critical")])
    assert (found.severity, found.check_id) == ("critical", CHECK)
    facts = dict(found.facts)
    assert facts["Check"] == f"CSR approvers ({CHECK})"
    assert facts["Scope"] == "namespace(s) ops"
    assert facts["Reason"] == "The approver bot is replaced next sprint."
    assert facts["Approved by"] == "ada on 2025-02-18"
    assert facts["Expires"] == "2025-03-13 12:00 UTC"
    payload = found.as_payload()
    assert payload["link"] == "/clusters/prod/waivers/#waiver-11"
    assert payload["kind_label"] == "Waiver about to expire"


def test_it_warns_of_an_attestation_due_within_seven_days_and_reports_its_lapse() -> None:
    [found] = detect(attestations=[attestation()])
    assert (found.kind, found.severity) == (Kind.ATTESTATION_EXPIRING, "medium")
    assert found.title == "attestation of cis-kubernetes 5.6.1 must be renewed by 2025-03-13"
    assert found.dedup_key == "cluster:7:attestation:21:attestation_expiring:2025-03-13"
    assert dict(found.facts)["Re-attest by"] == "2025-03-13"
    assert detect(attestations=[attestation(reattest_by=date(2025, 3, 17))]) == []
    [lapsed] = detect(attestations=[attestation(reattest_by=date(2025, 3, 9))])
    assert lapsed.kind == Kind.ATTESTATION_EXPIRED
    assert "was due for re-attestation on 2025-03-09" in lapsed.summary


def test_it_ignores_revoked_and_renewed_attestations() -> None:
    assert detect(attestations=[attestation(revoked=True)]) == []
    renewal = attestation(attestation_id=22, reattest_by=date(2026, 3, 1))
    assert detect(attestations=[attestation(), renewal]) == []


# --- The scan: recorded once, emailed once per recipient -----------------------------------


@pytest.fixture
def cluster(db) -> Cluster:
    cluster = evaluated_cluster(name="prod-eu")
    ClusterOwner.objects.create(cluster=cluster, email="owner@example.com")
    return cluster


@pytest.fixture
def scan(django_capture_on_commit_callbacks) -> Iterator[Callable[..., list[int]]]:
    """The scan through the worker path: each notification it enqueues after the commit is
    sent by the task."""

    def run(**kwargs: Any) -> list[int]:
        sent = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            notification_ids = services.expiries_check(**kwargs)
            assert len(mail.outbox) == sent  # nothing leaves before the scan commits
        return notification_ids

    with mock.patch.object(send_notification, "delay", side_effect=send_notification):
        yield run


def approved_waiver(cluster: Cluster, engineer: Any, admin: Any, *, days: float = 3) -> Waiver:
    waiver = compliance.waiver_request(
        cluster=cluster,
        check_id=CHECK,
        by=engineer.user,
        owner_email="platform@example.com",
        reason="The approver bot is replaced next sprint.",
        expires_at=timezone.now() + timedelta(days=days),
        namespaces=["ops"],
    )
    return compliance.waiver_approve(waiver=waiver, by=admin.user)


def test_it_emails_each_recipient_once_when_a_waiver_nears_expiry_and_once_when_it_expires(
    cluster, engineer, admin, scan
) -> None:
    Subscription.objects.create(user=engineer.user, cluster=None, min_severity="high")
    waiver = approved_waiver(cluster, engineer, admin)

    assert len(scan()) == 2
    assert scan() == []  # the second scan finds them sent
    assert sorted(m.to[0] for m in mail.outbox) == ["erin@example.com", "owner@example.com"]
    assert {m.subject for m in mail.outbox} == {
        "[Rampart] prod-eu: waiver of Subjects that can approve certificate signing requests "
        "expires in 3 days"
    }

    later = waiver.expires_at + timedelta(hours=1)
    assert len(scan(now=later)) == 2
    assert scan(now=later + timedelta(hours=1)) == []
    assert len(mail.outbox) == 4
    kinds = NotificationEntry.objects.values_list("recipient", "kind", "notification__status")
    assert sorted(kinds) == [
        ("erin@example.com", "waiver_expired", "sent"),
        ("erin@example.com", "waiver_expiring", "sent"),
        ("owner@example.com", "waiver_expired", "sent"),
        ("owner@example.com", "waiver_expiring", "sent"),
    ]


def test_it_warns_again_when_the_waiver_gets_a_new_expiry_date(
    cluster, engineer, admin, scan
) -> None:
    waiver = approved_waiver(cluster, engineer, admin)
    scan()
    Waiver.objects.filter(pk=waiver.pk).update(expires_at=waiver.expires_at + timedelta(days=2))
    scan()
    assert [m.subject.rsplit(" expires ", 1)[1] for m in mail.outbox] == [
        "in 3 days",
        "in 5 days",
    ]


def test_it_says_nothing_of_waivers_renewed_revoked_or_far_from_expiry(
    cluster, engineer, admin, scan
) -> None:
    approved_waiver(cluster, engineer, admin)
    approved_waiver(cluster, engineer, admin, days=60)  # the renewal, same scope
    approved_waiver(cluster, engineer, admin, days=8)  # not yet: its own warning tomorrow
    revoked = approved_waiver(cluster, engineer, admin, days=2)
    compliance.waiver_revoke(waiver=revoked, by=admin.user)
    assert scan() == []
    assert mail.outbox == []


def test_it_filters_by_each_subscribers_minimum_severity(cluster, engineer, admin, scan) -> None:
    Subscription.objects.create(user=admin.user, cluster=cluster, min_severity="critical")
    approved_waiver(cluster, engineer, admin)
    scan()
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]


def test_it_emails_an_attestation_that_lapses_and_queues_it_for_digests(
    cluster, engineer, admin, scan, settings
) -> None:
    settings.SITE_URL = "https://rampart.example.com"
    Subscription.objects.create(
        user=admin.user, cluster=None, min_severity="medium", delivery="digest"
    )
    attestation = compliance.attestation_create(
        cluster=cluster,
        guide="cis-kubernetes",
        item_id="5.6.1",
        by=engineer.user,
        justification="Namespaces map one-to-one to teams; reviewed with each owner.",
        reattest_by=timezone.localdate() + timedelta(days=5),
        evidence_link="https://wiki.example.com/reviews/namespaces",
    )
    assert len(scan()) == 1
    [message] = mail.outbox
    assert message.to == ["owner@example.com"]
    due = timezone.localdate() + timedelta(days=5)
    assert message.subject == (
        f"[Rampart] prod-eu: attestation of cis-kubernetes 5.6.1 must be renewed by {due}"
    )
    body = message.body
    # A purely manual control has no check to borrow a severity from: the configured one.
    assert (
        f"[HIGH] Attestation about to expire: attestation of cis-kubernetes 5.6.1 must be "
        f"renewed by {due}."
    ) in body
    assert "Evidence: https://wiki.example.com/reviews/namespaces" in body
    assert (
        "See the guide item and its attestations: "
        "https://rampart.example.com/clusters/prod-eu/guides/cis-kubernetes/items/5.6.1/"
    ) in body

    assert delivery.digests_send() == 1
    digest = mail.outbox[1]
    assert digest.to == ["ada@example.com"]
    assert digest.subject == "[Rampart] Daily digest for prod-eu: 1 alert"
    assert "  Re-attest by: " in digest.body
    assert (
        "  See the guide item and its attestations: "
        "https://rampart.example.com/clusters/prod-eu/guides/cis-kubernetes/items/5.6.1/"
    ) in digest.body

    lapsed = timezone.now() + timedelta(days=6, hours=1)
    assert len(scan(now=lapsed)) == 1
    assert mail.outbox[-1].subject.endswith("attestation of cis-kubernetes 5.6.1 expired")
    assert Attestation.objects.get(pk=attestation.pk).state(today=timezone.localdate(lapsed)) == (
        "lapsed"
    )


def test_the_task_enqueues_after_commit_and_a_repeated_tick_sends_nothing_twice(
    cluster, engineer, admin, django_capture_on_commit_callbacks
) -> None:
    approved_waiver(cluster, engineer, admin)
    with mock.patch.object(send_notification, "delay") as delay:
        with django_capture_on_commit_callbacks() as callbacks:
            assert check_expiries() == 1
        delay.assert_not_called()  # nothing is enqueued before the scan commits
        for callback in callbacks:
            callback()
        [notification] = Notification.objects.all()
        delay.assert_called_once_with(notification.pk)
        # The next tick comes before the worker sent it: enqueued again, claimed only once.
        with django_capture_on_commit_callbacks(execute=True):
            assert check_expiries() == 1
    assert delay.call_args_list == [mock.call(notification.pk)] * 2
    assert send_notification(notification.pk) == "sent"
    assert send_notification(notification.pk) == "not claimed"
    assert check_expiries() == 0
    assert len(mail.outbox) == 1


# --- Over real SMTP ------------------------------------------------------------------------


def test_it_delivers_a_waiver_expiry_over_real_smtp_once(
    cluster, engineer, admin, smtp_inbox: Inbox, settings, scan
) -> None:
    settings.SITE_URL = "https://rampart.example.com"
    waiver = approved_waiver(cluster, engineer, admin)
    scan()
    scan()
    [envelope] = smtp_inbox.envelopes
    assert envelope.rcpt_tos == ["owner@example.com"]
    [message] = smtp_inbox.messages
    assert message["Subject"].startswith("[Rampart] prod-eu: waiver of ")
    assert message["Message-ID"].startswith("<rampart-notification-")
    body = text_part(message)
    assert (
        "[HIGH] Waiver about to expire: waiver of Subjects that can approve certificate "
        "signing requests expires in 3 days."
    ) in body
    assert "Scope: namespace(s) ops" in body
    assert "Reason: The approver bot is replaced next sprint." in body
    assert "Approved by: ada on " in body
    assert (
        f"See the waiver: https://rampart.example.com/clusters/prod-eu/waivers/#waiver-{waiver.pk}"
    ) in body
    assert f"https://rampart.example.com/clusters/prod-eu/checks/{CHECK}/" in body
    assert "https://rampart.example.com/alerts/unsubscribe/" in body
    html = text_part(message, "html")
    assert '>Risk owner</th><td style="padding:2px 0;">platform@example.com</td>' in html
    assert (
        f'href="https://rampart.example.com/clusters/prod-eu/waivers/#waiver-{waiver.pk}"' in html
    )


def test_beat_runs_the_expiry_scan(settings: Any) -> None:
    tasks = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "alerts.tasks.check_expiries" in tasks
