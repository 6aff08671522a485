"""Calico's selector language: parsed as Calico documents it, matched three-valued.

Expressions come from docs.tigera.io (reference/resources/networkpolicy "Selectors", the
"Calico automatic labels" page and "Enable default deny for Kubernetes pods").
"""

from __future__ import annotations

import pytest

from posture.checks.calico_selector import SelectorError, parse
from posture.checks.netpol_model import UNKNOWN, Value

WEB = {"app": "web", "role": "frontend", "my-label": "production", "color": "red"}

MATCHES = [
    ("all()", {}, True),
    ("", {}, True),  # an empty spec.selector defaults to all()
    ("!all()", WEB, False),
    ("global()", WEB, False),  # only non-namespaced resources, never a pod
    ("has(app)", WEB, True),
    ("has(tier)", WEB, False),
    ("!has(tier)", WEB, True),
    ("! has(app)", WEB, False),
    ("app == 'web'", WEB, True),
    ('app == "web"', WEB, True),
    ("app == 'db'", WEB, False),
    ("tier == 'web'", WEB, False),
    ("app != 'db'", WEB, True),
    ("tier != 'web'", WEB, True),  # holds for a pod without the label
    ("app != 'web'", WEB, False),
    ("role in {'frontend', 'business'}", WEB, True),
    ("role in {'business'}", WEB, False),
    ("role in {}", WEB, False),
    ("tier in {'web'}", WEB, False),
    ("role not in {'frontend'}", WEB, False),
    ("tier not in {'web'}", WEB, True),  # holds for a pod without the label
    ("my-label starts with 'prod'", WEB, True),
    ("my-label ends with 'tion'", WEB, True),
    ("my-label contains 'duct'", WEB, True),
    ("my-label contains 'staging'", WEB, False),
    ("tier starts with 'w'", WEB, False),
    ("app == 'web' && role == 'frontend'", WEB, True),
    ("app == 'web' && role == 'db'", WEB, False),
    ("app == 'db' || role == 'frontend'", WEB, True),
    ("!(app == 'web' && role == 'frontend')", WEB, False),
    ("(app == 'db' || app == 'web') && color == 'red'", WEB, True),
    # The docs' precedence example: ((!has(my-label)) || (starts with && in)).
    (
        "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
        WEB,
        True,
    ),
    (
        "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
        {"my-label": "prod-1", "role": "db"},
        False,
    ),
    (
        "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
        {"role": "db"},
        True,
    ),
    # "Calico automatic labels": a namespace by name in a namespaceSelector.
    ('projectcalico.org/name in {"foo", "bar"}', {"projectcalico.org/name": "foo"}, True),
    (
        'has(projectcalico.org/name) && projectcalico.org/name not in {"kube-system", '
        '"calico-system", "calico-apiserver"}',
        {"projectcalico.org/name": "calico-system"},
        False,
    ),
    ("k8s-app == 'kube-dns'", {"k8s-app": "kube-dns"}, True),
]


def _labels(labels: dict[str, str], unknown: frozenset[str] = frozenset()):
    def resolve(key: str) -> Value:
        return UNKNOWN if key in unknown else labels.get(key)

    return resolve


@pytest.mark.parametrize(("expression", "labels", "expected"), MATCHES)
def test_it_matches_selectors_as_calico_documents_them(expression, labels, expected) -> None:
    assert parse(expression).holds(_labels(labels)) is expected


THREE_VALUED = [
    # Pod labels unknown ("any pod of a namespace"): only what holds for every pod is True.
    ("all()", True),
    ("has(app)", None),
    ("!has(app)", None),
    ("app == 'web' || app != 'web'", None),  # a tautology Kleene logic does not see: unsure
    ("all() || has(app)", True),
    ("!all() && has(app)", False),
    ("projectcalico.org/namespace == 'shop'", True),
    ("projectcalico.org/namespace == 'shop' && has(app)", None),
    ("projectcalico.org/namespace == 'blog' && has(app)", False),
]


@pytest.mark.parametrize(("expression", "expected"), THREE_VALUED)
def test_it_says_unsure_when_the_answer_depends_on_unknown_labels(expression, expected) -> None:
    def resolve(key: str) -> Value:
        return "shop" if key == "projectcalico.org/namespace" else UNKNOWN

    assert parse(expression).holds(resolve) is expected


ERRORS = [
    ("has(", "expected a label name at the end"),
    ("app ==", "expected a quoted string at the end"),
    ("app = 'web'", "unexpected character '=' at 5"),
    ("app == 'web' &&", "expected a label name at the end"),
    ("(app == 'web'", "expected ')' at the end"),
    ("app is 'web'", "expected an operator after label 'app' at 5"),
    ("app == 'web')", "unexpected ')' at 13"),
    ("app in {'a' 'b'}", "expected '}' at 13"),
    ("app starts 'w'", "expected 'with' at 12"),
    ("app == web", "expected a quoted string at 8"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_it_refuses_what_is_not_a_selector_saying_where(expression, message) -> None:
    with pytest.raises(SelectorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(expression)
