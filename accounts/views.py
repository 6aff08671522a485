from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.forms import AccountCreateForm, AccountRoleForm
from accounts.roles import user_role


class LoginView(auth_views.LoginView):
    """Django's login, offering single sign-on when it is enabled."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = settings.RAMPART_OIDC_ENABLED
        return context


class PasswordChangeView(auth_views.PasswordChangeView):
    """Every signed-in person changes their own password here (not in /admin/), audited."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        services.account_password_changed(user=self.request.user)  # type: ignore[arg-type]
        return response


def _require(request: HttpRequest, permission: str) -> AbstractUser:
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return request.user  # type: ignore[return-value]


def _get_account(pk: int) -> AbstractUser:
    return get_object_or_404(get_user_model().objects.prefetch_related("groups"), pk=pk)  # type: ignore[return-value]


@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    _require(request, "auth.view_user")
    users = get_user_model().objects.prefetch_related("groups").select_related("sso_identity")
    rows = [
        {"user": user, "role": user_role(user), "sso": hasattr(user, "sso_identity")}
        for user in users.order_by("-is_active", "username")
    ]
    return render(
        request,
        "accounts/user_list.html",
        {"rows": rows, "can_add": request.user.has_perm("auth.add_user")},
    )


@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    by = _require(request, "auth.add_user")
    form = AccountCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.account_create(
                by=by,
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                password=form.cleaned_data["password1"],
            )
        except services.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{user.get_username()} can sign in as {form.cleaned_data['role']}. "
                "Give them their first password in person; they can change it under their name.",
            )
            return redirect("user_list")
    return render(request, "accounts/user_create.html", {"form": form})


@require_http_methods(["GET", "POST"])
def user_change(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "auth.view_user")
    account = _get_account(pk)
    form = AccountRoleForm(request.POST or None, initial={"role": user_role(account)})
    if request.method == "POST":
        by = _require(request, "auth.change_user")
        if form.is_valid():
            try:
                changed = services.account_role_change(
                    by=by, user=account, role=form.cleaned_data["role"]
                )
            except services.AccountError as exc:
                messages.error(request, str(exc))
            else:
                if changed:
                    role = form.cleaned_data["role"] or "no role"
                    messages.success(request, f"{account.get_username()} is now {role}.")
                return redirect("user_change", pk=account.pk)
    return render(
        request,
        "accounts/user_change.html",
        {
            "account": account,
            "role": user_role(account),
            "sso": hasattr(account, "sso_identity"),
            "form": form,
            "is_self": account.pk == request.user.pk,
            "can_change": request.user.has_perm("auth.change_user"),
        },
    )


@require_POST
def user_active_set(request: HttpRequest, pk: int) -> HttpResponse:
    by = _require(request, "auth.change_user")
    account = _get_account(pk)
    active = request.POST.get("active") == "1"
    try:
        changed = services.account_active_set(by=by, user=account, active=active)
    except services.AccountError as exc:
        messages.error(request, str(exc))
    else:
        if changed:
            state = "reactivated: they can sign in again" if active else "deactivated"
            messages.success(request, f"{account.get_username()} is {state}.")
    return redirect("user_change", pk=account.pk)
