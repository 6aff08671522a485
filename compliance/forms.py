from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from compliance.services import ATTESTATION_MAX_DAYS
from posture.checks.base import Area, Severity

EVIDENCE_MAX_BYTES = 20 * 1024 * 1024


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


def object_key(obj: dict[str, Any]) -> str:
    """An affected object as a waiver names it: "Kind/namespace/name"."""
    return f"{obj.get('kind', '')}/{obj.get('namespace') or ''}/{obj.get('name', '')}"


def affected_choices(affected: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The stored affected objects of a check, once each, as (waiver key, label) choices."""
    choices: dict[str, str] = {}
    for obj in affected:
        key = object_key(obj)
        if key in choices or not obj.get("name"):
            continue
        where = f"{obj['namespace']}/" if obj.get("namespace") else ""
        label = f"{obj.get('kind', '')} {where}{obj['name']}"
        if obj.get("detail"):
            label += f" \u2014 {obj['detail']}"
        if obj.get("waived"):
            label += " (already waived)"
        choices[key] = label
    return list(choices.items())


class WaiverRequestForm(forms.Form):
    whole = forms.BooleanField(
        required=False,
        label="The whole check",
        help_text="Every object it fails on, now and until the waiver expires.",
    )
    objects = forms.MultipleChoiceField(
        required=False,
        label="Or only these affected objects",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "object-choices"}),
        help_text="The objects the latest collection found failing this check.",
    )
    namespaces = forms.MultipleChoiceField(
        required=False,
        label="Or every affected object in these namespaces",
        widget=forms.CheckboxSelectMultiple(attrs={"class": "namespace-choices"}),
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why the risk is accepted, and what compensates for it.",
    )
    owner_email = forms.EmailField(help_text="Who answers for this risk until it expires.")
    expires_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"At most {settings.RAMPART_WAIVER_MAX_DAYS} days ahead; it stops applying then.",
    )

    def __init__(
        self, *args: Any, affected: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        affected = affected or []
        objects = self.fields["objects"]
        namespaces = self.fields["namespaces"]
        assert isinstance(objects, forms.MultipleChoiceField)
        assert isinstance(namespaces, forms.MultipleChoiceField)
        objects.choices = affected_choices(affected)
        namespaces.choices = [
            (name, name)
            for name in sorted({o["namespace"] for o in affected if o.get("namespace")})
        ]
        if not objects.choices:
            del self.fields["objects"]
        if not namespaces.choices:
            del self.fields["namespaces"]

    @property
    def scope_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("whole", "objects", "namespaces") if name in self.fields]

    @property
    def term_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("reason", "owner_email", "expires_on")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = bool(data.get("objects") or data.get("namespaces"))
        if data.get("whole") and chosen:
            raise forms.ValidationError(
                "Choose the whole check or some affected objects, not both."
            )
        if not data.get("whole") and not chosen:
            raise forms.ValidationError("Choose the affected objects to waive, or the whole check.")
        return data

    @property
    def workloads(self) -> list[str]:
        return [] if self.cleaned_data.get("whole") else list(self.cleaned_data.get("objects", []))

    @property
    def chosen_namespaces(self) -> list[str]:
        if self.cleaned_data.get("whole"):
            return []
        return list(self.cleaned_data.get("namespaces", []))

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
