"""Turning notifications into email messages: subject, plain text, HTML, absolute links.

Links are built from settings.SITE_URL, never from a request: emails are rendered by workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from alerts.models import Notification

UNSUBSCRIBE_SALT = "alerts.unsubscribe"


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_token(*, subscription_token: str = "", cluster_id: int = 0, email: str = "") -> str:
    """A signed link token: a subscription's random token, or an owner's (cluster, email)."""
    if subscription_token:
        return signing.dumps({"s": subscription_token}, salt=UNSUBSCRIBE_SALT)
    return signing.dumps({"c": cluster_id, "e": email}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(notification: Notification) -> str:
    if notification.subscription_id and notification.subscription is not None:
        token = unsubscribe_token(subscription_token=notification.subscription.unsubscribe_token)
    elif notification.cluster_id:
        token = unsubscribe_token(cluster_id=notification.cluster_id, email=notification.recipient)
    else:
        return ""
    return absolute(reverse("alerts_unsubscribe", kwargs={"token": token}))


def links(payload: dict[str, Any]) -> dict[str, str]:
    cluster = payload.get("cluster", "")
    if not cluster:
        return {}
    found = {"cluster": absolute(reverse("cluster_detail", kwargs={"name": cluster}))}
    if payload.get("link"):
        # The object the regression is about (a waiver, an attestation): its page first.
        found["page"] = absolute(payload["link"])
    if payload.get("check_id"):
        found["check"] = absolute(
            reverse("check_detail", kwargs={"name": cluster, "check_id": payload["check_id"]})
        )
    return found


def message_id(notification: Notification) -> str:
    # Stable per notification: if a send is ever repeated (a worker lost after the server
    # accepted the message), mail clients that deduplicate by Message-ID show it once.
    domain = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "rampart"
    return f"<rampart-notification-{notification.pk}@{domain}>"


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
    payload = notification.payload
    unsubscribe = unsubscribe_url(notification)
    headers = {"Message-ID": message_id(notification)}
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
    template = "test" if notification.kind == Notification.TEST_KIND else "regression"
    return _message(
        subject=notification.subject,
        template=template,
        context={
            "notification": notification,
            "regression": payload,
            "links": links(payload),
            "unsubscribe_url": unsubscribe,
            "more": max(0, payload.get("evidence_total", 0) - len(payload.get("evidence", []))),
            "log_url": absolute(reverse("alerts_notifications")),
        },
        to=notification.recipient,
        headers=headers,
    )


def digest_message(recipient: str, notifications: Sequence[Notification]) -> EmailMultiAlternatives:
    items = []
    for n in notifications:
        found = links(n.payload)
        items.append(
            {
                "regression": n.payload,
                "links": found,
                # The most specific page: the waiver or attestation, the check, the cluster.
                "url": found.get("page") or found.get("check") or found.get("cluster", ""),
                "more": max(
                    0, n.payload.get("evidence_total", 0) - len(n.payload.get("evidence", []))
                ),
            }
        )
    unsubscribe = next((unsubscribe_url(n) for n in notifications if n.subscription_id), "")
    clusters = sorted({n.payload.get("cluster", "") for n in notifications} - {""})
    subject = f"[Rampart] Daily digest: {len(items)} regression(s) on {', '.join(clusters[:3])}"
    if len(clusters) > 3:
        subject += f" and {len(clusters) - 3} more"
    headers = {"Message-ID": f"<rampart-digest-{notifications[0].pk}-{len(items)}@rampart>"}
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
    return _message(
        subject=subject,
        template="digest",
        context={
            "items": items,
            "unsubscribe_url": unsubscribe,
            "fleet_url": absolute(reverse("fleet")),
        },
        to=recipient,
        headers=headers,
    )
