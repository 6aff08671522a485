"""The catalog: every check, searchable and filtered by area, severity and guide."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from posture.checks.base import REGISTRY

pytestmark = pytest.mark.django_db


def listed(response) -> set[str]:
    return set(re.findall(r'data-check="([^"]+)"', response.content.decode()))


def test_it_lists_every_check(auditor):
    assert listed(auditor.get(reverse("catalog"))) == set(REGISTRY)


def test_it_filters_by_area_and_severity(auditor):
    network = listed(auditor.get(reverse("catalog"), {"area": "network"}))
    assert network and all(REGISTRY[c].area.value == "network" for c in network)
    high_access = listed(auditor.get(reverse("catalog"), {"area": "access", "severity": "high"}))
    assert "access.nodes_proxy" in high_access
    assert all(REGISTRY[c].severity.value == "high" for c in high_access)


def test_it_filters_by_guide(auditor):
    pss = listed(auditor.get(reverse("catalog"), {"guide": "pss"}))
    assert "isolation.privileged" in pss
    assert "access.nodes_proxy" not in pss


def test_it_searches_ids_titles_and_references(auditor):
    found = listed(auditor.get(reverse("catalog"), {"q": "privileged"}))
    assert "isolation.privileged" in found
    assert "access.nodes_proxy" not in found
    assert "access.nodes_proxy" in listed(auditor.get(reverse("catalog"), {"q": "5.1.10"}))


def test_it_shows_which_guide_items_a_check_judges(auditor):
    html = auditor.get(reverse("catalog"), {"q": "access.nodes_proxy"}).content.decode()
    assert "<strong>5.1.10</strong>" in html


def test_it_ignores_an_unknown_filter_value(auditor):
    assert listed(auditor.get(reverse("catalog"), {"area": "bogus"})) == set(REGISTRY)


def test_it_hides_the_catalog_from_outsiders(outsider):
    assert outsider.get(reverse("catalog")).status_code == 403
