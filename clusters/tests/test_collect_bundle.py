"""scripts/collect-bundle.sh and the read-only ClusterRole it runs with.

The script runs for real against the fake API server, through a stand-in `kubectl` that makes
the same requests kubectl would (`get --raw /apis`, `get <plural>.<group> -o json`) and prints
what kubectl prints, so what Rampart then reads is what an auditor would upload.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import orjson
import yaml

from clusters.bundles import read_bundle
from clusters.inventory import KindStatus
from clusters.resources import RESOURCES
from clusters.tests.fakeapi import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "collect-bundle.sh"
RBAC = ROOT / "deploy" / "kubernetes" / "rampart-reader-rbac.yaml"
CNP = "ciliumnetworkpolicies.cilium.io"

FAKE_KUBECTL = """#!{python}
import json, os, sys, urllib.error, urllib.request

server, token = os.environ["FAKE_SERVER"], os.environ["FAKE_TOKEN"]
resources = json.loads(os.environ["FAKE_RESOURCES"])
args = sys.argv[1:]
while args and args[0] in ("--context", "--request-timeout"):
    args = args[2:]


def fetch(path):
    request = urllib.request.Request(server + path, headers={{"Authorization": "Bearer " + token}})
    try:
        with urllib.request.urlopen(request) as response:
            return 200, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


if args[:2] == ["config", "current-context"]:
    print("fake")
elif args[:2] == ["get", "--raw"]:
    code, body = fetch(args[2])
    if code != 200:
        sys.exit("Error from server: " + json.loads(body).get("message", ""))
    sys.stdout.write(body.decode())
elif args[0] == "get":
    name = args[1]
    known = resources.get(name)
    code, body = fetch(known["path"]) if known else (404, b"{{}}")
    if code == 404:
        sys.exit('error: the server doesn\\'t have a resource type "' + name + '"')
    if code != 200:
        sys.exit("Error from server (Forbidden): " + json.loads(body).get("message", ""))
    items = [dict(item, apiVersion=known["apiVersion"], kind=known["kind"])
             for item in json.loads(body)["items"]]
    listing = {{"apiVersion": "v1", "items": items, "kind": "List", "metadata": {{}}}}
    print(json.dumps(listing))
else:
    sys.exit("fake kubectl: unsupported " + " ".join(args))
"""


def kubectl_names() -> dict[str, dict[str, str]]:
    """Every name kubectl accepts for each resource: plural, plural.group, plural.version.group."""
    names: dict[str, dict[str, str]] = {}
    for r in RESOURCES:
        info = {"path": r.list_path(), "apiVersion": r.api_version, "kind": r.kind}
        for name in (r.plural, f"{r.plural}.{r.group}", f"{r.plural}.{r.version}.{r.group}"):
            names.setdefault(name.rstrip("."), info)
    return names


def collect_with_the_script(server: FakeApiServer, tmp_path: Path) -> Path:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "KUBECTL": str(kubectl),
        "FAKE_SERVER": server.url,
        "FAKE_TOKEN": server.token or "",
        "FAKE_RESOURCES": orjson.dumps(kubectl_names()).decode(),
        "TMPDIR": str(tmp_path),
    }
    subprocess.run(
        ["bash", str(SCRIPT), "-o", str(out)], env=env, check=True, capture_output=True, timeout=120
    )
    (archive,) = out.glob("*.tar.gz")
    with tarfile.open(archive) as bundle:
        bundle.extractall(tmp_path / "extracted", filter="data")
    (directory,) = (tmp_path / "extracted").iterdir()
    return directory


def built_ins() -> dict[str, list]:
    return {r.key: [] for r in RESOURCES if not r.custom}


def test_it_collects_an_engine_the_cluster_serves_and_skips_those_it_does_not(
    tmp_path: Path,
) -> None:
    policy = {
        "metadata": {"name": "default-deny", "namespace": "shop"},
        "specs": [{"endpointSelector": {}, "ingress": [{}]}],
    }
    with FakeApiServer({**built_ins(), CNP: [policy]}) as server:
        directory = collect_with_the_script(server, tmp_path)
        requests = list(server.requests)

    inventory = read_bundle(directory)
    assert inventory.items(CNP)[0]["specs"] == [{"endpointSelector": {}, "ingress": [{}]}]
    for key in ("networkpolicies.crd.projectcalico.org", "vulnerabilityreports"):
        assert inventory.kind_status[key] == KindStatus.NOT_SERVED, key
        assert "not served by this cluster (API discovery)" in inventory.kind_errors[key]
    assert not [line for line in requests if "projectcalico" in line or "aquasecurity" in line]


def test_it_records_an_engine_the_reader_may_not_list(tmp_path: Path) -> None:
    forbidden = "globalnetworkpolicies.crd.projectcalico.org"
    with FakeApiServer(built_ins(), forbidden={forbidden}) as server:
        directory = collect_with_the_script(server, tmp_path)

    inventory = read_bundle(directory)
    assert inventory.kind_status[forbidden] == KindStatus.FORBIDDEN
    assert inventory.kind_status[CNP] == KindStatus.NOT_SERVED


def test_it_lists_every_resource_rampart_reads() -> None:
    listed = set()
    block = SCRIPT.read_text().split('RESOURCES="', 1)[1].split('"', 1)[0]
    for line in block.strip().splitlines():
        key, _, scope, *addon = line.split()
        listed.add(key)
        resource = next(r for r in RESOURCES if r.key == key)
        assert scope == ("namespaced" if resource.namespaced else "cluster"), key
        assert addon == ([resource.api_version] if resource.custom else []), key
    assert listed == {r.key for r in RESOURCES}


def test_it_grants_read_only_access_to_every_resource_and_no_secrets() -> None:
    documents = list(yaml.safe_load_all(RBAC.read_text()))
    (role,) = [d for d in documents if d and d["kind"] == "ClusterRole"]
    rules = [rule for rule in role["rules"] if "apiGroups" in rule]
    for resource in RESOURCES:
        granted = {
            verb
            for rule in rules
            if resource.group in rule["apiGroups"] and resource.plural in rule["resources"]
            for verb in rule["verbs"]
        }
        assert {"get", "list"} <= granted, resource.key
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"get", "list"}
    assert not [rule for rule in rules if {"secrets", "configmaps", "*"} & set(rule["resources"])]
