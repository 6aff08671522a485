from __future__ import annotations

from django import forms

from alerts.models import Subscription
from clusters.models import Cluster


class SubscriptionForm(forms.Form):
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.all(),
        required=False,
        empty_label="Every cluster (fleet-wide)",
        to_field_name="name",
    )
    min_severity = forms.ChoiceField(
        choices=Subscription.MinSeverity.choices,
        initial=Subscription.MinSeverity.HIGH,
        label="Minimum severity",
    )
    delivery = forms.ChoiceField(
        choices=Subscription.Delivery.choices,
        initial=Subscription.Delivery.IMMEDIATE,
        widget=forms.RadioSelect,
    )


class TestEmailForm(forms.Form):
    recipient = forms.EmailField(label="Send a test email to")
