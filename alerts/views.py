"""Views of the alerts app: the notification log and test email (admins), subscriptions
(per user) and the unsubscribe link from emails (no login: the signed token is the proof).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from alerts import services
from alerts.forms import SubscriptionForm, TestEmailForm
from alerts.models import Notification, Subscription

LOG_PAGE_SIZE = 50


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


@require_http_methods(["GET"])
def notification_log(request: HttpRequest) -> HttpResponse:
    _require(request, "alerts.view_notification")
    page = Paginator(Notification.objects.for_log(), LOG_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "alerts/notifications.html",
        {
            "page": page,
            "test_form": TestEmailForm(initial={"recipient": getattr(request.user, "email", "")}),
            "can_send_test": request.user.has_perm("alerts.send_test_email"),
        },
    )


@require_POST
def notification_test(request: HttpRequest) -> HttpResponse:
    _require(request, "alerts.send_test_email")
    form = TestEmailForm(request.POST)
    if form.is_valid():
        services.test_email_record(
            recipient=form.cleaned_data["recipient"], requested_by=request.user
        )
        messages.success(
            request,
            f"Test email to {form.cleaned_data['recipient']} queued; "
            "its delivery shows in the log below.",
        )
    else:
        messages.error(request, "Enter a valid email address.")
    return redirect("alerts_notifications")


@require_http_methods(["GET", "POST"])
def subscriptions(request: HttpRequest) -> HttpResponse:
    _require(request, "clusters.view_cluster")
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST":
        _require(request, "alerts.add_subscription")
        if form.is_valid():
            services.subscription_save(user=request.user, **form.cleaned_data)
            messages.success(request, "Subscription saved.")
            return redirect("alerts_subscriptions")
    return render(
        request,
        "alerts/subscriptions.html",
        {
            "form": form,
            "subscriptions": Subscription.objects.for_user(request.user),
            "can_subscribe": request.user.has_perm("alerts.add_subscription"),
        },
    )


@require_POST
def subscription_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    _require(request, "alerts.delete_subscription")
    if services.subscription_delete(user=request.user, subscription_id=subscription_id):
        messages.success(request, "Unsubscribed.")
    return redirect("alerts_subscriptions")


@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    # GET only asks: mail scanners follow links, and following one must not unsubscribe anyone.
    try:
        what = services.unsubscribe_describe(token=token)
        done = request.method == "POST" and services.unsubscribe(token=token)
    except services.BadUnsubscribeLink:
        return render(request, "alerts/unsubscribe.html", {"invalid": True}, status=400)
    return render(request, "alerts/unsubscribe.html", {"what": what, "done": done})
