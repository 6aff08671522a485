from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from compliance.services import ATTESTATION_MAX_DAYS, ComplianceError, workload_key
from posture.checks.base import Area, Severity

EVIDENCE_MAX_BYTES = 20 * 1024 * 1024


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace(",", "\n").splitlines() if line.strip()]


class AttestationForm(forms.Form):
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What was checked, how, and what was found.",
    )
    evidence_file = forms.FileField(required=False, help_text="Screenshot, export or report.")
    evidence_link = forms.URLField(required=False, max_length=500, assume_scheme="https")
    reattest_by = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=(
            f"After this date the item is manual again (at most {ATTESTATION_MAX_DAYS} days)."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reattest_by"].initial = timezone.localdate() + timedelta(days=90)

    def clean_evidence_file(self) -> Any:
        upload = self.cleaned_data.get("evidence_file")
        if upload and upload.size > EVIDENCE_MAX_BYTES:
            raise forms.ValidationError("Evidence files are limited to 20 MB.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("evidence_file") and not data.get("evidence_link"):
            raise forms.ValidationError("Attach an evidence file or link to one.")
        return data


class WaiverRequestForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why the risk is accepted, and what compensates for it.",
    )
    owner_email = forms.EmailField(help_text="Who answers for this risk until it expires.")
    expires_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"At most {settings.RAMPART_WAIVER_MAX_DAYS} days ahead; it stops applying then.",
    )
    namespaces = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only objects in these namespaces (one per line). Empty: the whole check.",
    )
    workloads = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only these objects, as Kind/namespace/name (one per line).",
    )

    def clean_workloads(self) -> list[str]:
        try:
            return [workload_key(line) for line in _lines(self.cleaned_data.get("workloads", ""))]
        except ComplianceError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_namespaces(self) -> list[str]:
        return _lines(self.cleaned_data.get("namespaces", ""))

    def clean_expires_on(self) -> date:
        value: date = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if not today < value <= today + timedelta(days=settings.RAMPART_WAIVER_MAX_DAYS):
            raise forms.ValidationError(
                f"Pick a date after today and within {settings.RAMPART_WAIVER_MAX_DAYS} days."
            )
        return value

    @property
    def expires_at(self) -> datetime:
        """End of the chosen day, capped to the maximum from now."""
        end = timezone.make_aware(datetime.combine(self.cleaned_data["expires_on"], time.max))
        limit = timezone.now() + timedelta(days=settings.RAMPART_WAIVER_MAX_DAYS)
        return min(end, limit)


class CatalogFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    area = forms.ChoiceField(
        required=False, choices=[("", "All areas"), *((a.value, a.label) for a in Area)]
    )
    severity = forms.ChoiceField(
        required=False,
        choices=[("", "All severities"), *((s.value, s.value.capitalize()) for s in Severity)],
    )
    guide = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, guides: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["guide"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "All guides"), *guides]

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {"q": "", "area": "", "severity": "", "guide": ""}
        return {key: self.cleaned_data.get(key) or "" for key in ("q", "area", "severity", "guide")}


class AuditFilterForm(forms.Form):
    cluster = forms.CharField(required=False)
    action = forms.CharField(required=False)
