"""The form that asks for a report: guide, as of a date or for a period, format."""

from __future__ import annotations

from typing import Any

from django import forms

from clusters.models import Cluster
from compliance.models import Report
from compliance.reports.scope import Scope, ScopeError, scope_build
from posture.guides import guides_for, run_distribution


class ReportForm(forms.Form):
    as_of = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for today, or give a period below instead.",
    )
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    format = forms.ChoiceField(choices=Report.Format.choices, initial=Report.Format.PDF)

    def __init__(self, *args: Any, cluster: Cluster | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        # The cluster's primary guides first, the first of them chosen (posture.guides): the
        # same order as its checklists. A fleet report offers the default order.
        evaluation = cluster.latest_evaluation if cluster else None
        offered = guides_for(run_distribution(evaluation.run if evaluation else None))
        self.fields["guide"] = forms.ChoiceField(
            choices=[(g.slug, g.label) for g in offered], initial=offered[0].slug
        )
        if cluster is None:
            environments = Cluster.objects.environments()
            self.fields["environment"] = forms.ChoiceField(
                required=False,
                choices=[("", "All clusters"), *((e, e) for e in environments)],
            )
        self.order_fields(["guide", "environment", "as_of", "start", "end", "format"])
        self.scope: Scope | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.scope = scope_build(
                guide=data["guide"],
                cluster=self.cluster,
                environment=data.get("environment") or "",
                as_of=data.get("as_of"),
                start=data.get("start"),
                end=data.get("end"),
            )
        except ScopeError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data
