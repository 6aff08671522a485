"""The issue-2 promise, over real HTTP: register a cluster's kubeconfig, `collect --sync`,
`posture --format json`, and every planted problem is there, named by its owning workload.

The cluster is the storefront-staging demo bundle served by the fake API server, so the
`kubernetes` client pages, authenticates with a bearer token and probes anonymous access.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from django.core.management import call_command

from clusters.tests.fakeapi import FakeApiServer

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[1] / "demo" / "bundles"


@pytest.mark.parametrize("name", ["storefront-staging", "payments-prod", "edge-dev"])
def test_it_shows_every_planted_problem_of_a_live_cluster(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    # Many pages, many continue tokens.
    settings.RAMPART_KUBE_PAGE_SIZE = 7  # type: ignore[attr-defined]
    # The demo's end-of-life expectations were written for this date.
    monkeypatch.setattr(
        "django.utils.timezone.localdate", lambda value=None, timezone=None: date(2026, 11, 26)
    )
    expected = orjson.loads((DEMO / name / "EXPECTED.json").read_bytes())
    with FakeApiServer.from_bundle(DEMO / name) as server:
        kubeconfig = tmp_path / "kubeconfig.yaml"
        kubeconfig.write_text(server.kubeconfig())
        call_command("register_cluster", name, "--kubeconfig", str(kubeconfig), "--no-collect")
        call_command("collect", name, "--sync")
    capsys.readouterr()
    call_command("posture", name, "--format", "json")
    document = orjson.loads(capsys.readouterr().out)
    assert document["collection"]["status"] in ("succeeded", "partial")
    checks = {check["id"]: check for check in document["checks"]}
    for check_id, planted in expected["fail"].items():
        check = checks[check_id]
        assert check["status"] == "fail", (check_id, check["summary"])
        found = {(a["kind"], a["namespace"], a["name"]) for a in check["affected"]}
        for item in planted:
            assert (item["kind"], item["namespace"], item["name"]) in found, (check_id, item)
    # What the collector may not list (edge-dev's RBAC) is unknown, never a pass.
    for check_id in expected.get("unknown", []):
        assert checks[check_id]["status"] == "unknown", check_id
        assert "forbidden" in checks[check_id]["summary"]
    # A live source probes anonymous access, which a bundle cannot.
    assert checks["access.anonymous_api"]["status"] == "pass"
