"""Why a check is unknown reads one line per cause, never the raw API error per input: the
pure grouping, and the check and cluster pages of a cluster whose reader could not list RBAC."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from clusters.models import Cluster
from clusters.services import cluster_register
from posture.verdicts import CauseLine, cause_lines

DEMO = Path(__file__).resolve().parents[2] / "demo" / "bundles"
DENIED = 'roles.rbac.authorization.k8s.io is forbidden: User "x" cannot list resource "roles"'


def test_it_groups_missing_inputs_by_cause_and_says_each_message_once():
    lines = cause_lines(
        ["roles", "rolebindings", "pods", "kube-bench", "vulnerabilityreports"],
        {
            "roles": "forbidden",
            "rolebindings": "forbidden",
            "pods": "error",
            "kube-bench": "not_collected",
            "vulnerabilityreports": "not_served",
        },
        {"roles": DENIED, "rolebindings": DENIED, "pods": "HTTP 500: etcd timeout"},
    )
    assert lines == [
        CauseLine("forbidden: roles, rolebindings", (DENIED,)),
        CauseLine("could not be read: pods", ("HTTP 500: etcd timeout",)),
        CauseLine("needs node-level evidence (no kube-bench results imported)"),
        CauseLine("not served: vulnerabilityreports"),
    ]


def test_it_says_nothing_when_nothing_is_missing():
    assert cause_lines([], {}, {}) == []


@pytest.mark.django_db
def test_it_shows_one_line_per_cause_on_the_check_and_cluster_pages(auditor):
    cluster_register(
        name="edge-dev", source_kind=Cluster.SourceKind.BUNDLE, bundle_path=DEMO / "edge-dev"
    )
    call_command("collect", "edge-dev", "--sync")

    url = reverse("check_detail", kwargs={"name": "edge-dev", "check_id": "access.secrets_readers"})
    html = auditor.get(url).content.decode()
    assert "forbidden: roles, clusterroles, rolebindings, clusterrolebindings" in html
    # Each raw API message once (in the details), not twice (summary and reasons).
    assert html.count("cannot list resource &quot;roles&quot;") == 1

    page = auditor.get(reverse("cluster_detail", kwargs={"name": "edge-dev"})).content.decode()
    assert "Why checks are unknown" in page
    assert "forbidden: rolebindings (" in page
    # Once in the causes block and once in the run's own record: not once per unknown check.
    assert page.count("cannot list resource &quot;rolebindings&quot;") <= 2
