"""One verdict everywhere: a waiver approved on a demo cluster shows alike on every page.

payments-prod is collected from its demo bundle through `collect --sync`; an engineer requests
a waiver of one of its failing checks and an admin approves it over HTTP. Then the fleet page,
the cluster page, the check page, the checklist, the trends, compare, drift and
`posture --format json` must all give the same score, the same status for the check and the
same points (none: a waived check costs nothing). The same again after the waiver is revoked.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters.models import Cluster
from clusters.services import cluster_register
from compliance.models import Waiver
from posture.guides import guides
from posture.verdicts import check_views

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[1] / "demo" / "bundles"
CHECK = "network.exposed_services"
GUIDE, ITEM = "nsa-cisa", "network-policies"  # an item this check judges


def _seen(client: Client, cluster: Cluster) -> dict[str, Any]:
    """Score, the check's status and its points, as each page and the CLI show them."""
    name = cluster.name
    seen: dict[str, Any] = {}

    fleet = client.get(reverse("fleet"))
    row = next(r for r in fleet.context["rows"] if r["name"] == name)
    seen["fleet score"] = row["score"]

    page = client.get(reverse("cluster_detail", args=[name])).context
    checks = {c["id"]: c for area in page["areas"] for c in area["checks"]}
    seen["cluster page score"] = page["evaluation"].score
    seen["cluster page status"] = checks[CHECK]["status"]
    seen["cluster page points"] = checks[CHECK]["score_impact"]

    detail = client.get(reverse("check_detail", args=[name, CHECK])).context
    seen["check page status"] = detail["result"].status
    seen["check page points"] = detail["impact"]

    checklist = client.get(reverse("checklist", args=[name, GUIDE])).context["checklist"]
    item = next(r for r in checklist.rows if r.item.id == ITEM)
    entry = next(c for c in item.checks if c.key == CHECK)
    seen["checklist status"] = entry.result.status

    trends = client.get(reverse("cluster_trends", args=[name])).context["trend"]
    seen["trends score"] = trends.latest_score

    compare = client.get(reverse("cluster_compare", args=[name])).context["comparison"]
    seen["compare score"] = compare.score.after

    drift = client.get(reverse("fleet_drift"), {"only": "all"}).context["matrix"]
    drift_row = next(r for r in drift.rows if r.check_id == CHECK)
    column = next(i for i, c in enumerate(drift.columns) if c.name == name)
    seen["drift status"] = drift_row.cells[column].status

    out = StringIO()
    call_command("posture", name, "--format", "json", stdout=out)
    document = orjson.loads(out.getvalue())
    check = next(c for c in document["checks"] if c["id"] == CHECK)
    seen["posture json score"] = document["score"]
    seen["posture json status"] = check["status"]
    seen["posture json points"] = check["score_impact"]
    return seen


def _assert_one_verdict(seen: dict[str, Any], *, status: str, points_zero: bool) -> None:
    scores = {k: v for k, v in seen.items() if k.endswith("score")}
    score = seen["posture json score"]
    assert scores["fleet score"] == f"{score:.1f}", seen
    assert {v for k, v in scores.items() if k != "fleet score"} == {score}, seen
    assert {v for k, v in seen.items() if k.endswith("status")} == {status}, seen
    points = {v for k, v in seen.items() if k.endswith("points")}
    assert len(points) == 1, seen
    assert (points == {0.0}) == points_zero, seen


def test_it_shows_one_verdict_for_a_waived_check_on_every_page(
    engineer: Client, admin: Client, auditor: Client
) -> None:
    cluster = cluster_register(
        name="payments-prod",
        source_kind=Cluster.SourceKind.BUNDLE,
        bundle_path=DEMO / "payments-prod",
        collect=True,
        environment="production",
    )
    call_command("collect", cluster.name, "--sync", stdout=StringIO())
    call_command("collect", cluster.name, "--sync", stdout=StringIO())  # compare needs two
    before = _seen(auditor, cluster)
    _assert_one_verdict(before, status="fail", points_zero=False)

    response = engineer.post(
        reverse("waiver_request", args=[cluster.name, CHECK]),
        {
            "reason": "The payments load balancer is fronted by Cloud Armor.",
            "owner_email": "payments-oncall@example.com",
            "expires_on": (timezone.localdate() + timedelta(days=30)).isoformat(),
            "whole": "on",  # the whole check, every object it fails on
        },
    )
    assert response.status_code == 302
    waiver = Waiver.objects.get()
    assert admin.post(reverse("waiver_approve", args=[waiver.pk])).status_code == 302

    waived = _seen(auditor, cluster)
    _assert_one_verdict(waived, status="waived", points_zero=True)
    assert waived["posture json score"] > before["posture json score"]

    assert engineer.post(reverse("waiver_revoke", args=[waiver.pk])).status_code == 302
    revoked = _seen(auditor, cluster)
    _assert_one_verdict(revoked, status="fail", points_zero=False)
    assert revoked["posture json score"] == before["posture json score"]


def test_it_judges_pss_items_by_their_own_control_on_every_demo_cluster(auditor: Client) -> None:
    """Each Pod Security item fails only where its own control fails, never by the level."""
    pss = guides()["pss"]
    for directory in sorted(p for p in DEMO.iterdir() if p.is_dir()):
        cluster = cluster_register(
            name=directory.name,
            source_kind=Cluster.SourceKind.BUNDLE,
            bundle_path=directory,
            collect=True,
        )
        call_command("collect", cluster.name, "--sync", stdout=StringIO())
        evaluation = Cluster.objects.get(pk=cluster.pk).latest_evaluation
        assert evaluation is not None
        failing_controls = {
            f"{view.check_id}/{name}"
            for view in check_views(
                evaluation, check_ids=["pss.baseline", "pss.restricted"], with_affected=False
            )
            for name, control in view.controls.items()
            if control.get("status") == "fail"
        }
        rows = auditor.get(reverse("checklist", args=[cluster.name, "pss"])).context["checklist"]
        for row in rows.rows:
            item = pss.item(row.item.id)
            assert item is not None
            fails = bool(set(item.checks) & failing_controls)
            assert (row.status == "fail") == fails, (cluster.name, row.item.id, row.status)
