"""The guides load, every check id they name exists, and every item is judged somehow."""

from __future__ import annotations

import pytest

from compliance.tests.factories import item_of
from posture.checks.base import REGISTRY, Reference
from posture.guides import (
    GuideError,
    guide_join,
    guide_parse,
    guides,
    guides_for,
    guides_load,
    primary_guides,
    problems,
)

EXPECTED_COUNTS = {
    "cis-gke": 59,
    "cis-kubernetes": 131,  # 97 node-level items of sections 1-4 + 34 of section 5
    "gke-hardening": 51,
    "nsa-cisa": 22,
    "pss": 19,
}


def test_it_loads_the_five_guides():
    loaded = guides()
    assert list(loaded) == sorted(EXPECTED_COUNTS)
    assert {slug: len(guide.items) for slug, guide in loaded.items()} == EXPECTED_COUNTS
    assert loaded["cis-kubernetes"].version == "1.12"
    assert loaded["cis-gke"].version == "1.9.0"


@pytest.mark.parametrize(
    ("distribution", "primary"),
    [
        ("gke", ("gke-hardening", "cis-gke")),
        ("other", ("cis-kubernetes",)),  # kubeadm, k3s: the cluster owns the whole benchmark
        ("eks", ("cis-kubernetes",)),  # no EKS benchmark ships; CIS Kubernetes 4-5 apply
        ("aks", ("cis-kubernetes",)),
        ("", ("cis-kubernetes",)),  # not collected yet: assume no provider
    ],
)
def test_it_chooses_the_primary_guides_by_distribution(distribution, primary):
    assert primary_guides(distribution) == primary
    assert tuple(g.slug for g in guides_for(distribution)[: len(primary)]) == primary
    assert len(guides_for(distribution)) == len(EXPECTED_COUNTS)


def test_it_names_only_checks_that_exist_and_leaves_no_item_unjudged():
    assert problems(guides().values(), REGISTRY) == []


def test_it_reports_an_unknown_check_id():
    guide = guide_parse(
        {
            "slug": "demo",
            "title": "Demo",
            "version": "1",
            "sections": [
                {
                    "id": "1",
                    "items": [
                        {"id": "1.1", "title": "x", "evidence": "K8S", "checks": ["no.such"]}
                    ],
                }
            ],
        },
        where="demo",
    )
    assert problems([guide], REGISTRY) == ["demo 1.1: unknown check ids ['no.such']"]


def test_it_refuses_a_malformed_item():
    with pytest.raises(GuideError, match="evidence"):
        guide_parse(
            {
                "slug": "d",
                "title": "D",
                "version": "1",
                "sections": [{"id": "1", "items": [{"id": "a", "title": "b"}]}],
            },
            where="d",
        )


def test_it_joins_checks_by_their_references_at_the_guide_version():
    cis = guides()["cis-kubernetes"]
    assert "access.cluster_admin_bindings" in item_of(cis, "5.1.1").checks
    # 5.2.9 is "capabilities assigned" in v1.12; v1.11's 5.2.9 (added capabilities) must not join.
    assert "isolation.capabilities_not_dropped" in item_of(cis, "5.2.9").checks
    assert "isolation.added_capabilities" not in item_of(cis, "5.2.9").checks


def test_it_joins_nsa_sections_by_alias_and_title():
    nsa = guides()["nsa-cisa"]
    assert "access.automounted_tokens" in item_of(nsa, "pod-service-account-tokens").checks
    assert "access.automounted_tokens" not in item_of(nsa, "pod-security-enforcement").checks
    assert "isolation.privileged" in item_of(nsa, "pod-security-enforcement").checks


def test_it_joins_a_new_check_without_touching_the_data():
    from posture.checks.base import Check

    base = next(guide for guide in guides_load() if guide.slug == "gke-hardening")
    check = Check(
        id="demo.k2",
        title="Legacy ABAC",
        area=REGISTRY["access.pv_creators"].area,
        severity=REGISTRY["access.pv_creators"].severity,
        rationale="",
        remediation="",
        needs=(),
        references=(Reference("gke-hardening", "K2", "2026-04"),),
        evaluate=lambda inventory, context: None,  # type: ignore[arg-type,return-value]
    )
    assert item_of(guide_join(base, [check]), "K2").checks == ("demo.k2",)
