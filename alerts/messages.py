"""Turning notifications into email messages: subject, plain text, HTML, absolute links.

Links are built from settings.SITE_URL, never from a request: emails are rendered by workers.
The HTML part loads nothing remote (no images, fonts or style sheets; inline styles only), so
it reads the same in a client that blocks remote content, and tells no one it was opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from alerts import summaries
from alerts.models import Notification, Subscription

UNSUBSCRIBE_SALT = "alerts.unsubscribe"
# Severity badges of the HTML part: dark text on a light tint, legible in light and dark modes.
SEVERITY_STYLES = {
    "critical": "background:#fde2e1;color:#7b1414;",
    "high": "background:#fdebd0;color:#7a4006;",
    "medium": "background:#fcf3cf;color:#6b5703;",
    "low": "background:#d6eaf8;color:#1b4f72;",
    "info": "background:#eaecee;color:#3d4646;",
}
BADGE = "display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;font-weight:bold;"


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_token(*, subscription_token: str = "", cluster_id: int = 0, email: str = "") -> str:
    """A signed link token: a subscription's random token, or an owner's (cluster, email)."""
    if subscription_token:
        return signing.dumps({"s": subscription_token}, salt=UNSUBSCRIBE_SALT)
    return signing.dumps({"c": cluster_id, "e": email}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(notification: Notification) -> str:
    if notification.kind in Notification.WAIVER_KINDS:
        return ""  # addressed to the people who act on a waiver, not to a subscription
    if notification.subscription_id and notification.subscription is not None:
        token = unsubscribe_token(subscription_token=notification.subscription.unsubscribe_token)
    elif notification.cluster_id:
        token = unsubscribe_token(cluster_id=notification.cluster_id, email=notification.recipient)
    else:
        return ""
    return absolute(reverse("alerts_unsubscribe", kwargs={"token": token}))


def reason(notification: Notification) -> str:
    """Why this person gets this email, for the footer."""
    subscription = notification.subscription if notification.subscription_id else None
    if subscription is not None:
        scope = f"alerts for {subscription.cluster}" if subscription.cluster_id else "fleet alerts"
        threshold = Subscription.MinSeverity(subscription.min_severity).label.lower()
        delivery = Subscription.Delivery(subscription.delivery).label.lower()
        return f"You subscribed to {scope}: {threshold}, {delivery}."
    cluster = notification.payload.get("cluster", "")
    return f"You are an owner of {cluster}." if cluster else ""


def message_id(notification: Notification) -> str:
    # Stable per notification: if a send is ever repeated (a worker lost after the server
    # accepted the message), mail clients that deduplicate by Message-ID show it once.
    return f"<rampart-notification-{notification.pk}@{_domain()}>"


def _domain() -> str:
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "rampart"


def alert_context(payload: dict[str, Any]) -> dict[str, Any]:
    """One occasion's payload, as its templates read it: absolute links, dates, badges."""
    cluster = payload["cluster"]
    alert = {**payload, "at": parse_datetime(payload["at"]) if payload.get("at") else None}
    alert["cluster_url"] = absolute(reverse("cluster_detail", kwargs={"name": cluster}))
    alert["findings"] = [
        {
            **block,
            "url": _check_url(cluster, block["check_id"]),
            "badge": _badge(block["severity"]),
        }
        for block in payload["findings"]
    ]
    for section in ("cluster_alerts", "governance"):
        alert[section] = [
            {
                **item,
                "badge": _badge(item["severity"]),
                "page_url": absolute(item["link"]) if item.get("link") else "",
                "check_url": _check_url(cluster, item["check_id"]) if item.get("check_id") else "",
                "more": max(0, item.get("evidence_total", 0) - len(item.get("evidence", []))),
            }
            for item in payload[section]
        ]
    alert["score_change"] = _change(payload.get("score"), "")
    alert["coverage_change"] = _change(payload.get("coverage"), "%")
    evaluations = payload.get("evaluations")
    alert["compare_url"] = (
        absolute(
            reverse("cluster_compare", kwargs={"name": cluster})
            + "?"
            + urlencode({"from": evaluations[0], "to": evaluations[1]})
        )
        if evaluations
        else ""
    )
    return alert


def _check_url(cluster: str, check_id: str) -> str:
    return absolute(reverse("check_detail", kwargs={"name": cluster, "check_id": check_id}))


def _badge(severity: str) -> str:
    return BADGE + SEVERITY_STYLES.get(severity, SEVERITY_STYLES["info"])


def _change(pair: list[float | None] | None, unit: str) -> dict[str, str] | None:
    """ "58.4 → 27.4 (-31.0)" as parts, with a true minus sign; None when there is no before
    and after to compare."""
    before, after = pair or (None, None)
    if before is None or after is None:
        return None
    delta = round(after - before, 1)
    sign = "\N{MINUS SIGN}" if delta < 0 else "+" if delta > 0 else "±"
    return {
        "before": f"{before:.1f}{unit}",
        "after": f"{after:.1f}{unit}",
        "delta": f"{sign}{abs(delta):.1f}",
        "moved": "yes" if delta else "",
    }


def _message(
    *, subject: str, template: str, context: dict[str, Any], to: str, headers: dict[str, str]
) -> EmailMultiAlternatives:
    context = {**context, "site_url": settings.SITE_URL}
    text = render_to_string(f"alerts/email/{template}.txt", context)
    html = render_to_string(f"alerts/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def notification_message(notification: Notification) -> EmailMultiAlternatives:
    unsubscribe = unsubscribe_url(notification)
    headers = {"Message-ID": message_id(notification)}
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
    context: dict[str, Any] = {
        "notification": notification,
        "unsubscribe_url": unsubscribe,
        "reason": reason(notification),
    }
    if notification.kind == Notification.TEST_KIND:
        template = "test"
        context["log_url"] = absolute(reverse("alerts_notifications"))
    elif notification.kind in Notification.WAIVER_KINDS:
        template = "waiver"
        context["waiver"] = {
            **notification.payload,
            "url": absolute(notification.payload["link"]),
            "badge": _badge(notification.payload.get("severity", "")),
        }
    else:
        template = "alert"
        context["alert"] = alert_context(notification.payload)
    return _message(
        subject=notification.subject,
        template=template,
        context=context,
        to=notification.recipient,
        headers=headers,
    )


def digest_message(recipient: str, notifications: Sequence[Notification]) -> EmailMultiAlternatives:
    subject, clusters = summaries.digest_summary([n.payload for n in notifications])
    for cluster in clusters:
        cluster["occasions"] = [alert_context(payload) for payload in cluster["occasions"]]
        cluster["url"] = cluster["occasions"][0]["cluster_url"]
    subscribed = next((n for n in notifications if n.subscription_id), None)
    unsubscribe = unsubscribe_url(subscribed) if subscribed else ""
    headers = {
        "Message-ID": f"<rampart-digest-{notifications[0].pk}-{len(notifications)}@{_domain()}>"
    }
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
    return _message(
        subject=subject,
        template="digest",
        context={
            "subject": subject,
            "title": subject.removeprefix(summaries.SUBJECT_PREFIX).strip(),
            "clusters": clusters,
            "occasions": len(notifications),
            "unsubscribe_url": unsubscribe,
            "reason": reason(subscribed) if subscribed else "",
            "fleet_url": absolute(reverse("fleet")),
        },
        to=recipient,
        headers=headers,
    )
