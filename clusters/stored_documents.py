"""Documents a person uploads for a cluster and Rampart keeps: one per cluster and key.

Provider descriptions (clusters.provider_links, one per provider) and kube-bench runs
(clusters.node_benchmarks, one per node) are stored, replaced and removed the same way, so
that way lives here once: an upload is read within a byte limit (one byte past it at most, so
a huge file is refused without being read) and parsed as JSON; storing replaces the previous
document of that key under a row lock; every store and removal is sent as
`clusters.signals.cluster_changed` inside the caller's transaction, with what the document was
before and after (the compliance app audits it). What a document must contain stays with its
owner, which also names the error its refusals raise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

import orjson
from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.utils import timezone

from clusters.models import Cluster
from clusters.signals import cluster_changed


def json_upload_read(
    upload: IO[bytes], *, name: str, limit: int, refused: type[Exception], hint: str = ""
) -> Any:
    """The upload parsed as JSON, or `refused` with one line saying why."""
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise refused(f"{name} is larger than {limit // (1024 * 1024)} MiB")
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise refused(f"{name} is not JSON ({exc}){': ' + hint if hint else ''}") from None


def change_sent(
    *,
    cluster: Cluster,
    by: AbstractBaseUser | None,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime | None = None,
) -> None:
    cluster_changed.send(
        sender=type(obj),
        cluster=cluster,
        actor=by,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        before=before,
        after=after,
        at=at or timezone.now(),
    )


def document_store[Stored: models.Model](
    *,
    model: type[Stored],
    cluster: Cluster,
    key: dict[str, Any],
    fields: dict[str, Any],
    audited: Callable[[Stored], dict[str, Any]],
    action: str,
    by: AbstractBaseUser | None,
) -> Stored:
    """Store the document of `key` (replacing the previous one); call inside a transaction."""
    manager = model._default_manager
    previous = manager.select_for_update().filter(cluster=cluster, **key).first()
    now = timezone.now()
    stored, _ = manager.update_or_create(
        cluster=cluster,
        **key,
        defaults={**fields, "uploaded_at": now, "uploaded_by": by},
    )
    change_sent(
        cluster=cluster,
        by=by,
        action=action,
        obj=stored,
        before=audited(previous) if previous is not None else None,
        after=audited(stored),
        at=now,
    )
    return stored


def document_remove[Stored: models.Model](
    *,
    model: type[Stored],
    cluster: Cluster,
    key: dict[str, Any],
    audited: Callable[[Stored], dict[str, Any]],
    action: str,
    by: AbstractBaseUser | None,
) -> None:
    """Remove the document of `key`, if any; call inside a transaction."""
    document = model._default_manager.select_for_update().filter(cluster=cluster, **key).first()
    if document is None:
        return
    before = audited(document)
    document_id = document.pk
    document.delete()
    document.pk = document_id  # the audit names the row that was removed
    change_sent(cluster=cluster, by=by, action=action, obj=document, before=before, after=None)
