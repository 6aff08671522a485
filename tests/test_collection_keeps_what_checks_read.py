"""Collection keeps what checks read: one verdict whichever way the objects arrive.

Each case of the corpus is judged three times: from its objects exactly as the API returns
them (nothing dropped), from an evidence bundle of them (`read_bundle`), and from the live API
serving them (`kube.collect` with the real `kubernetes` client over HTTP against the fake API
server). Both sources trim what they collect; if the trim dropped a field any check reads, the
verdicts would differ and this fails, naming the check. The corpus is every demo bundle, a
cluster built to exercise the fields checks read outside `spec` (a ServiceAccount's
automountServiceAccountToken, a ClusterRole's aggregationRule, webhooks, RuntimeClass
handlers), and, when ../shared/oracle is present, every Polaris fixture and PSS fixture pod.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from clusters import kube
from clusters.bundles import ERRORS_FILE, read_bundle, recorded_errors, resource_key
from clusters.inventory import Inventory, KindStatus
from clusters.resources import BY_KIND, RESOURCES
from clusters.shapes import split_valid
from clusters.tests.fakeapi import DEFAULT_VERSION, FakeApiServer
from posture.checks.base import CheckContext, run_all

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "bundles"
ORACLE = ROOT.parent / "shared" / "oracle"


@dataclass
class Case:
    name: str
    objects: dict[str, list[JSON]]
    version: JSON = field(default_factory=lambda: dict(DEFAULT_VERSION))
    forbidden: set[str] = field(default_factory=set)


def _meta(name: str, namespace: str | None = None, **extra: Any) -> JSON:
    meta: JSON = {"name": name, "uid": f"uid-{namespace}-{name}", **extra}
    if namespace:
        meta["namespace"] = namespace
    # What the API adds and the trim drops: present so the test sees it go.
    meta["managedFields"] = [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:x": {}}}]
    return meta


def _fields_outside_spec() -> Case:
    """Objects whose verdicts hang on fields outside `spec` (the fields a whitelist loses)."""
    pod_spec = {
        "containers": [{"name": "app", "image": "registry.example.com/app:1.2"}],
        "serviceAccountName": "quiet",
    }
    return Case(
        name="fields-outside-spec",
        objects={
            "namespaces": [
                {
                    "metadata": _meta(
                        "shop", labels={"pod-security.kubernetes.io/enforce": "baseline"}
                    )
                },
                {"metadata": _meta("ops")},
            ],
            "serviceaccounts": [
                # Opted out at the top level, as the API stores it: not under spec.
                {"metadata": _meta("default", "shop"), "automountServiceAccountToken": False},
                {"metadata": _meta("default", "ops")},
                {"metadata": _meta("quiet", "shop"), "automountServiceAccountToken": False},
            ],
            "deployments": [
                {
                    "metadata": _meta("web", "shop"),
                    "spec": {"replicas": 1, "template": {"metadata": {}, "spec": pod_spec}},
                }
            ],
            "clusterroles": [
                {
                    "metadata": _meta("aggregate-all", labels={}),
                    "aggregationRule": {
                        "clusterRoleSelectors": [{"matchLabels": {"rampart.test/agg": "true"}}]
                    },
                    "rules": [],
                },
                {
                    "metadata": _meta("everything", labels={"rampart.test/agg": "true"}),
                    "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
                },
            ],
            "clusterrolebindings": [
                {
                    "metadata": _meta("ops-admins"),
                    "roleRef": {"kind": "ClusterRole", "name": "aggregate-all"},
                    "subjects": [{"kind": "User", "name": "alice@example.com"}],
                }
            ],
            "runtimeclasses": [{"metadata": _meta("gvisor"), "handler": "runsc"}],
            "validatingwebhookconfigurations": [
                {
                    "metadata": _meta("gatekeeper-validating-webhook-configuration"),
                    "webhooks": [
                        {
                            "name": "validation.gatekeeper.sh",
                            "failurePolicy": "Ignore",
                            "rules": [{"operations": ["CREATE"], "resources": ["pods"]}],
                        }
                    ],
                }
            ],
        },
    )


def _raw_bundle(directory: Path) -> Case:
    """A demo bundle's objects exactly as its files hold them, untrimmed."""
    objects: dict[str, list[JSON]] = {}
    version: JSON = dict(DEFAULT_VERSION)
    forbidden: set[str] = set()
    errors = directory / ERRORS_FILE
    if errors.is_file():
        forbidden = {
            key
            for key, (status, _) in recorded_errors(errors.read_bytes()).items()
            if status == KindStatus.FORBIDDEN
        }
    for file in sorted(directory.glob("*.json")):
        document = orjson.loads(file.read_bytes())
        if not isinstance(document, dict) or file.name.startswith(("gke-", "eks-")):
            continue
        if "gitVersion" in document:
            version = document
            continue
        key = resource_key(file.name, document)
        if key is not None:
            objects.setdefault(key, []).extend(document.get("items") or [])
    return Case(directory.name, objects, version, forbidden)


def _oracle_cases() -> Iterator[Case]:
    polaris = ORACLE / "polaris" / "cases.jsonl"
    if polaris.is_file():
        objects: dict[str, list[JSON]] = {}
        for index, line in enumerate(polaris.read_text().splitlines()):
            case = json.loads(line) if line.strip() else None
            for manifest in (case or {}).get("manifest_files", []):
                for document in yaml.safe_load_all((ORACLE / "polaris" / manifest).read_text()):
                    if not isinstance(document, dict) or document.get("kind") not in _KINDS:
                        continue
                    item = dict(document)
                    meta = dict(item.get("metadata") or {})
                    # One object per case: names made unique; a namespaced object the
                    # manifest left unplaced gets `default`, as the API server would place it.
                    meta["name"] = f"{meta.get('name', 'x')}-{index}"
                    if BY_KIND[document["kind"]].namespaced:
                        meta.setdefault("namespace", "default")
                    item["metadata"] = meta
                    objects.setdefault(_KINDS[document["kind"]], []).append(item)
        # Only what an API server would store: a fixture object it would refuse (a container
        # without a name) is left to the hostile-input tests, this test is about the trim.
        yield Case(
            "polaris-fixtures", {key: split_valid(key, items)[0] for key, items in objects.items()}
        )
    pss = ORACLE / "pss" / "cases.jsonl"
    if pss.is_file():
        pods: list[JSON] = []
        seen: set[str] = set()
        for line in pss.read_text().splitlines():
            manifest = json.loads(line)["manifest_files"][0] if line.strip() else ""
            if not manifest or manifest in seen:
                continue
            seen.add(manifest)
            pod = yaml.safe_load((ORACLE / "pss" / manifest).read_text())
            meta = dict(pod.get("metadata") or {})
            meta.update(name=f"pod-{len(pods)}", namespace="fixtures")
            pods.append({**pod, "metadata": meta})
        yield Case(
            "pss-fixtures",
            {"pods": pods, "namespaces": [{"metadata": {"name": "fixtures"}}]},
        )


_KINDS = {kind: resource.key for kind, resource in BY_KIND.items()}


def _corpus() -> list[Case]:
    cases = [_raw_bundle(directory) for directory in sorted(DEMO.iterdir()) if directory.is_dir()]
    cases.append(_fields_outside_spec())
    cases.extend(_oracle_cases())
    return cases


def _complete(case: Case) -> dict[str, list[JSON]]:
    """Every resource Rampart lists, empty where the case has none (so every source agrees
    the kind was listed), except what the case's collector was forbidden."""
    return {
        resource.key: case.objects.get(resource.key, [])
        for resource in RESOURCES
        if resource.key not in case.forbidden
    }


def _direct(case: Case) -> Inventory:
    inventory = Inventory(version=case.version, source="direct")
    for key, items in _complete(case).items():
        inventory.objects[key] = items  # as the API returned them: nothing trimmed
        inventory.kind_status[key] = KindStatus.OK
    for key in case.forbidden:
        inventory.set_missing(key, KindStatus.FORBIDDEN, f"{key} is forbidden")
    return inventory


def _bundle(case: Case, directory: Path) -> Inventory:
    directory.mkdir()
    for key, items in _complete(case).items():
        document = {"apiVersion": "v1", "kind": "List", "items": items}
        (directory / f"{key}.json").write_bytes(orjson.dumps(document))
    (directory / "version.json").write_bytes(orjson.dumps(case.version))
    if case.forbidden:
        lines = [f"{key}\tforbidden\t{key} is forbidden" for key in sorted(case.forbidden)]
        (directory / ERRORS_FILE).write_text("\n".join(lines) + "\n")
    return read_bundle(directory)


def _live(case: Case) -> Inventory:
    with FakeApiServer(_complete(case), case.version, forbidden=case.forbidden) as server:
        inventory = kube.collect(server.credentials(), page_size=50, timeout=30)
    inventory.anonymous_probe = None  # a bundle cannot probe; compare like with like
    return inventory


def _verdicts(inventory: Inventory) -> dict[str, Any]:
    verdicts = {}
    for result in run_all(inventory, CheckContext(today=None)):
        outcome = result.outcome
        verdicts[result.check.id] = (
            str(outcome.status),
            sorted((a.kind, a.namespace, a.name, a.detail) for a in outcome.affected),
            {
                name: (str(control.status), sorted((a.name, a.detail) for a in control.affected))
                for name, control in outcome.controls.items()
            },
        )
    return verdicts


def _differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    return [
        f"{check_id}: {expected[check_id][0]} with the objects, {got.get(check_id, ('absent',))[0]}"
        f" after collection"
        for check_id in sorted(expected)
        if got.get(check_id) != expected[check_id]
    ]


@pytest.mark.parametrize("case", _corpus(), ids=lambda case: case.name)
def test_it_judges_the_same_from_the_objects_a_bundle_and_the_live_api(
    case: Case, tmp_path: Path
) -> None:
    expected = _verdicts(_direct(case))
    through_bundle = _verdicts(_bundle(case, tmp_path / "bundle"))
    through_api = _verdicts(_live(case))

    assert not _differences(expected, through_bundle), "bundle path"
    assert not _differences(expected, through_api), "live path"


def test_it_keeps_a_service_account_opting_out_of_automount() -> None:
    inventory = _live(_fields_outside_spec())

    accounts = {
        (sa["metadata"]["namespace"], sa["metadata"]["name"]): sa
        for sa in inventory.items("serviceaccounts")
    }
    assert accounts[("shop", "default")]["automountServiceAccountToken"] is False
    assert "managedFields" not in accounts[("shop", "default")]["metadata"]
    verdicts = _verdicts(inventory)
    status, affected, _ = verdicts["access.default_sa_automount"]
    assert status == "fail"
    assert [(kind, namespace) for kind, namespace, _, _ in affected] == [("ServiceAccount", "ops")]
    assert verdicts["access.automounted_tokens"][0] == "pass"
