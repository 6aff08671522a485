"""EKS: the cluster and its managed node groups from boto3.

`describe_cluster`, then `list_nodegroups` (paginated) and `describe_nodegroup` for each,
as one document: the `cluster` dict with a `nodegroups` list, the same shape a bundle's
eks-cluster.json holds (timestamps as ISO 8601 strings, as `aws eks describe-cluster` prints
them). `describe_cluster_versions` for the cluster's version (EKS's own support status and
dates) is read beside it when the credentials may.

Credentials: a static access key pair, or the worker's own (boto3's default chain: instance
profile, IRSA / Pod Identity, environment). Permissions needed: eks:DescribeCluster,
eks:ListNodegroups, eks:DescribeNodegroup (eks:DescribeClusterVersions optional).
RAMPART_EKS_ENDPOINT_URL overrides the endpoint (a VPC endpoint, a test fake).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from django.conf import settings

from clusters import crypto
from clusters.inventory import JSON
from clusters.providers import ProviderError

_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnauthorizedOperation",
    }
)


class KeyRejected(ValueError):
    """An access key pair that cannot be stored; the message never quotes the secret."""


def key_checked(access_key_id: str, secret_access_key: str) -> tuple[dict[str, str], str]:
    """(the pair, a label naming the key id's last four characters) for a static key."""
    key_id, secret = access_key_id.strip(), secret_access_key.strip()
    if not _ACCESS_KEY_ID.match(key_id):
        raise KeyRejected("the access key id is 16 or more capital letters and digits (AKIA...)")
    if len(secret) < 16 or any(character.isspace() for character in secret):
        raise KeyRejected("the secret access key is too short or contains spaces")
    return {"access_key_id": key_id, "secret_access_key": secret}, f"access key …{key_id[-4:]}"


def _session(link: Any) -> boto3.session.Session:
    if link.credentials_kind == "ambient":
        return boto3.session.Session(region_name=link.location)
    pair = json.loads(crypto.decrypt(bytes(link.credentials)))
    return boto3.session.Session(
        aws_access_key_id=pair["access_key_id"],
        aws_secret_access_key=pair["secret_access_key"],
        region_name=link.location,
    )


def _jsonable(value: Any) -> Any:
    """boto3's response as JSON: datetimes as ISO 8601 strings, as the AWS CLI prints them."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _reason(exc: BaseException, target: str) -> ProviderError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code in _DENIED:
            return ProviderError(
                f"EKS refused to describe {target} ({code}): the credentials need "
                "eks:DescribeCluster, eks:ListNodegroups and eks:DescribeNodegroup",
                forbidden=True,
            )
        if code == "ResourceNotFoundException":
            return ProviderError(f"EKS has no cluster {target}: check region and name")
        return ProviderError(f"EKS API error for {target}: {code} {message}")
    if isinstance(exc, NoCredentialsError):
        return ProviderError("the worker has no AWS credentials (boto3's default chain found none)")
    return ProviderError(f"the EKS API is unreachable or failed: {type(exc).__name__}: {exc}")


class EksSource:
    def fetch(self, link: Any, *, timeout: float) -> JSON:
        target = link.target
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        try:
            client = _session(link).client(
                "eks", endpoint_url=settings.RAMPART_EKS_ENDPOINT_URL or None, config=config
            )
            cluster = client.describe_cluster(name=link.name)["cluster"]
            names = [
                name
                for page in client.get_paginator("list_nodegroups").paginate(clusterName=link.name)
                for name in page.get("nodegroups", [])
            ]
            groups = [
                client.describe_nodegroup(clusterName=link.name, nodegroupName=name)["nodegroup"]
                for name in names
            ]
            extras: JSON = {}
            try:
                versions = client.describe_cluster_versions(clusterVersions=[cluster["version"]])
            except ClientError:
                pass  # optional: without EKS's calendar, the upstream one judges support
            else:
                extras["clusterVersions"] = _jsonable(versions)
        except (BotoCoreError, ClientError) as exc:
            raise _reason(exc, target) from None
        return {"cluster": _jsonable({**cluster, "nodegroups": groups}), **extras}


SOURCE = EksSource()
