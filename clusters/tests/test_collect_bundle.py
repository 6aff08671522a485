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


# A stand-in `aws` CLI: boto3 against the fake EKS API, `--query` applied with JMESPath, the
# output printed as the CLI prints it (JSON, timestamps as ISO strings; text for --output text).
FAKE_AWS = """#!{python}
import datetime, json, os, sys
import boto3, jmespath

args = sys.argv[1:]
assert args[0] == "eks", args
options, positional, index = {{}}, [], 1
while index < len(args):
    if args[index].startswith("--"):
        options[args[index][2:]] = args[index + 1]
        index += 2
    else:
        positional.append(args[index])
        index += 1
client = boto3.client(
    "eks",
    region_name=options.pop("region"),
    endpoint_url=os.environ["FAKE_EKS"],
    aws_access_key_id=os.environ["FAKE_KEY_ID"],
    aws_secret_access_key=os.environ["FAKE_SECRET"],
)
output, query = options.pop("output", "json"), options.pop("query", None)
names = {{"name": "name", "cluster-name": "clusterName", "nodegroup-name": "nodegroupName"}}
kwargs = {{names[key]: value for key, value in options.items() if key in names}}
if "cluster-versions" in options:
    kwargs["clusterVersions"] = [options["cluster-versions"]]
operation = positional[0].replace("-", "_")
try:
    if client.can_paginate(operation):  # the CLI pages through lists by itself
        pages = list(client.get_paginator(operation).paginate(**kwargs))
        result = pages[0]
        for page in pages[1:]:
            for key, value in page.items():
                if isinstance(value, list):
                    result[key] = result[key] + value
    else:
        result = getattr(client, operation)(**kwargs)
except client.exceptions.ClientError as error:
    sys.exit("An error occurred (" + error.response["Error"]["Code"] + "): " + str(error))
result.pop("ResponseMetadata", None)
if query:
    result = jmespath.search(query, result)
if output == "text":
    print("\\t".join(result) if isinstance(result, list) else result)
else:
    print(json.dumps(result, default=lambda value: value.isoformat(), indent=4))
"""


def collect_eks_with_the_script(
    server: FakeApiServer, eks_url: str, tmp_path: Path, *, key_id: str
) -> Path:
    aws = tmp_path / "bin" / "aws"
    aws.parent.mkdir()
    aws.write_text(FAKE_AWS.format(python=sys.executable))
    aws.chmod(0o755)
    os.environ["PATH"] = f"{aws.parent}{os.pathsep}{os.environ['PATH']}"
    try:
        os.environ.update(
            EKS_CLUSTER="batch-legacy",
            EKS_REGION="us-east-1",
            FAKE_EKS=eks_url,
            FAKE_KEY_ID=key_id,
            FAKE_SECRET="fake/secret/access/key/0123456789abcdef",
        )
        return collect_with_the_script(server, tmp_path)
    finally:
        for name in ("EKS_CLUSTER", "EKS_REGION", "FAKE_EKS", "FAKE_KEY_ID", "FAKE_SECRET"):
            os.environ.pop(name, None)
        os.environ["PATH"] = os.environ["PATH"].split(os.pathsep, 1)[1]


def test_it_saves_the_eks_description_with_every_node_group(tmp_path: Path) -> None:
    from clusters.tests.fakeproviders import ACCESS_KEY_ID, FakeEks, recording

    versions = {"clusterVersions": [{"clusterVersion": "1.29", "versionStatus": "UNSUPPORTED"}]}
    with (
        FakeApiServer(built_ins()) as server,
        FakeEks({"batch-legacy": recording("eks-default")}, cluster_versions=versions) as eks,
    ):
        directory = collect_eks_with_the_script(server, eks.url, tmp_path, key_id=ACCESS_KEY_ID)

    inventory = read_bundle(directory)
    assert inventory.kind_status["eks-cluster"] == KindStatus.OK, inventory.kind_errors
    entry = inventory.provider["eks"]
    assert [g["nodegroupName"] for g in entry["cluster"]["nodegroups"]] == [
        "workers",
        "workers-b",
        "legacy",
    ]
    assert entry["clusterVersions"]["clusterVersions"][0]["versionStatus"] == "UNSUPPORTED"


def test_it_records_an_eks_api_that_refuses_the_credentials(tmp_path: Path) -> None:
    from clusters.tests.fakeproviders import FakeEks, recording

    with (
        FakeApiServer(built_ins()) as server,
        FakeEks({"batch-legacy": recording("eks-default")}) as eks,
    ):
        directory = collect_eks_with_the_script(
            server, eks.url, tmp_path, key_id="AKIAOTHERKEY00000000"
        )

    inventory = read_bundle(directory)
    assert inventory.kind_status["eks-cluster"] == KindStatus.FORBIDDEN
    assert "UnrecognizedClientException" in inventory.kind_errors["eks-cluster"]
    assert inventory.has("pods")
