"""The same inventory is judged once: an unchanged re-collection reuses its raw verdicts."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from clusters.models import Cluster
from clusters.services import cluster_register
from posture import evaluation as evaluation_module
from posture.models import Evaluation, Finding

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"


def _collect(name: str) -> Evaluation:
    call_command("collect", name, "--sync", stdout=StringIO())
    found = Cluster.objects.get(name=name).latest_evaluation
    assert found is not None
    return found


def test_it_judges_an_unchanged_inventory_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster_register(
        name="shop", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=DEMO / "storefront-staging"
    )
    first = _collect("shop")
    findings = set(Finding.objects.values_list("pk", "status", "last_seen_at"))
    judged: list[object] = []
    real_judge = evaluation_module.judge

    def judge(*args: object, **kwargs: object) -> object:
        judged.append(args)
        return real_judge(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluation_module, "judge", judge)

    again = _collect("shop")

    assert judged == []  # the checks did not run again
    assert again.judging_fingerprint == first.judging_fingerprint != ""
    assert again.result_set_id == first.result_set_id
    assert again.verdict_set_id == first.verdict_set_id
    assert (again.score, again.coverage) == (first.score, first.coverage)
    # Nothing changed, so no finding row was rewritten.
    assert set(Finding.objects.values_list("pk", "status", "last_seen_at")) == findings


def test_it_judges_again_on_another_day(monkeypatch: pytest.MonkeyPatch, settings: object) -> None:
    cluster_register(
        name="shop", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=DEMO / "storefront-staging"
    )
    first = _collect("shop")
    # Patch and end-of-life verdicts depend on the day: a new day is judged anew.
    from datetime import timedelta

    from django.utils import timezone

    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: tomorrow)
    again = _collect("shop")

    assert again.judging_fingerprint != first.judging_fingerprint
