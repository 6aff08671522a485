"""Writes of a cluster's provider data: its provider link and its uploaded provider documents.

Editable by whoever may change the cluster (security engineers, admins). Keys are checked
before anything is stored (clusters.providers.gke / eks `key_checked`), encrypted with
clusters.crypto like kubeconfig credentials, and never shown again: a form re-rendered after
an error is blank, and the audit log keeps only the key's label. Every change is sent as
`clusters.signals.cluster_changed` inside its transaction (the compliance app audits it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from clusters import crypto
from clusters.models import Cluster, ProviderDocument, ProviderKind, ProviderLink
from clusters.providers import PROVIDERS, DocumentError, document_checked
from clusters.stored_documents import (
    change_sent,
    document_remove,
    document_store,
    json_upload_read,
)

# A Cluster resource or an EKS description with node groups is tens of kilobytes; a few
# megabytes is room for hundreds of node pools.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
_GKE_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GKE_LOCATION = re.compile(r"^[a-z]+-[a-z]+[0-9]+(-[a-z])?$")
_GKE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_EKS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$")
_EKS_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")


class ProviderLinkError(ValueError):
    """A link or document was refused; the message says why and never quotes a key."""


@dataclass(frozen=True)
class LinkRequest:
    """What a person asked for; `key_json` / the access key pair only when a new key is given."""

    kind: str
    location: str
    name: str
    credentials_kind: str
    project: str = ""
    key_json: str = field(default="", repr=False)
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    @property
    def new_key(self) -> bool:
        return bool(self.key_json.strip() or self.secret_access_key.strip())


def _validated_target(request: LinkRequest) -> None:
    checks: tuple[tuple[re.Pattern[str], str, str], ...]
    if request.kind == ProviderKind.GKE:
        checks = (
            (_GKE_PROJECT, request.project, "project id"),
            (_GKE_LOCATION, request.location, "location (region or zone, e.g. europe-west1)"),
            (_GKE_NAME, request.name, "cluster name"),
        )
    elif request.kind == ProviderKind.EKS:
        checks = (
            (_EKS_REGION, request.location, "region (e.g. eu-west-1)"),
            (_EKS_NAME, request.name, "cluster name"),
        )
    else:
        raise ProviderLinkError(f"unknown provider {request.kind!r}")
    for pattern, value, what in checks:
        if not pattern.match(value):
            raise ProviderLinkError(f"{value!r} is not a valid {what}")


def _stored_key(request: LinkRequest) -> tuple[bytes, str]:
    """The encrypted key and its label, after the provider's own check of it."""
    if request.kind == ProviderKind.GKE:
        from clusters.providers import gke

        try:
            info, label = gke.key_checked(request.key_json)
        except gke.KeyRejected as exc:
            raise ProviderLinkError(f"service-account key refused: {exc}") from None
        return crypto.encrypt(json.dumps(info).encode()), label
    from clusters.providers import eks

    try:
        pair, label = eks.key_checked(request.access_key_id, request.secret_access_key)
    except eks.KeyRejected as exc:
        raise ProviderLinkError(f"access key refused: {exc}") from None
    return crypto.encrypt(json.dumps(pair).encode()), label


@transaction.atomic
def provider_link_set(
    *, cluster: Cluster, request: LinkRequest, by: AbstractBaseUser | None
) -> ProviderLink:
    """Create or change the cluster's provider link; a stored key is kept unless replaced."""
    _validated_target(request)
    if request.credentials_kind not in ProviderLink.Credentials.values:
        raise ProviderLinkError(f"unknown credentials {request.credentials_kind!r}")
    link = ProviderLink.objects.select_for_update().filter(cluster=cluster).first()
    before = link.as_audited() if link is not None else None
    keeps_key = (
        link is not None
        and link.kind == request.kind
        and link.credentials_kind == ProviderLink.Credentials.KEY
        and bool(link.credentials)
    )
    if link is None:
        link = ProviderLink(cluster=cluster)
    link.kind, link.location, link.name = request.kind, request.location, request.name
    link.project = request.project if request.kind == ProviderKind.GKE else ""
    link.credentials_kind = request.credentials_kind
    if request.credentials_kind == ProviderLink.Credentials.AMBIENT:
        link.credentials, link.credentials_label = b"", ""
    elif request.new_key:
        link.credentials, link.credentials_label = _stored_key(request)
    elif not keeps_key:
        what = "service-account key" if request.kind == ProviderKind.GKE else "access key pair"
        raise ProviderLinkError(f"paste the {what}, or use the worker's own credentials")
    now = timezone.now()
    link.updated_at, link.updated_by = now, by  # type: ignore[assignment]
    link.save()
    change_sent(
        cluster=cluster,
        by=by,
        action="provider_link.set",
        obj=link,
        before=before,
        after=link.as_audited(),
        at=now,
    )
    return link


@transaction.atomic
def provider_link_remove(*, cluster: Cluster, by: AbstractBaseUser | None) -> None:
    link = ProviderLink.objects.select_for_update().filter(cluster=cluster).first()
    if link is None:
        return
    before = link.as_audited()
    link_id = link.pk
    link.delete()
    link.pk = link_id
    change_sent(
        cluster=cluster,
        by=by,
        action="provider_link.remove",
        obj=link,
        before=before,
        after=None,
        at=timezone.now(),
    )


def _audited(document: ProviderDocument) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "file_name": document.file_name,
        "cluster_name": str(document.document.get("name") or ""),
        "sha256": hashlib.sha256(
            orjson.dumps(document.document, option=orjson.OPT_SORT_KEYS)
        ).hexdigest(),
    }


@transaction.atomic
def provider_document_upload(
    *,
    cluster: Cluster,
    kind: str,
    upload: IO[bytes],
    upload_name: str,
    by: AbstractBaseUser | None,
) -> ProviderDocument:
    """Store an uploaded provider description, replacing the previous one of that provider."""
    provider = PROVIDERS.get(kind)
    if provider is None:
        raise ProviderLinkError(f"unknown provider {kind!r}")
    parsed = json_upload_read(
        upload, name=upload_name, limit=MAX_DOCUMENT_BYTES, refused=ProviderLinkError
    )
    try:
        document = document_checked(provider, parsed, where=upload_name)
    except DocumentError as exc:
        raise ProviderLinkError(str(exc)) from None
    return document_store(
        model=ProviderDocument,
        cluster=cluster,
        key={"kind": kind},
        fields={"document": document, "file_name": upload_name[:200]},
        audited=_audited,
        action="provider_document.upload",
        by=by,
    )


@transaction.atomic
def provider_document_remove(*, cluster: Cluster, kind: str, by: AbstractBaseUser | None) -> None:
    document_remove(
        model=ProviderDocument,
        cluster=cluster,
        key={"kind": kind},
        audited=_audited,
        action="provider_document.remove",
        by=by,
    )
