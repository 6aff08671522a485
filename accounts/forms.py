"""Forms of the accounts app: the people an admin manages in Rampart."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.roles import AUDITOR, ROLE_ORDER

ROLE_CHOICES = [(role, role) for role in ROLE_ORDER]


class AccountCreateForm(UserCreationForm):  # type: ignore[type-arg]
    """A new account: name, email, role and a first password (checked by the validators)."""

    email = forms.EmailField(help_text="Where alerts and waiver decisions are sent.")
    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        initial=AUDITOR,  # the least a new account can do; more is a choice
        help_text="Admin: everything. Security engineer: registers, collects, attests, "
        "requests waivers. Auditor: reads everything, changes nothing.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class AccountRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[*ROLE_CHOICES, ("", "No role (can sign in, sees nothing)")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].required = False
