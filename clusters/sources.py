"""Sources: where one run's inventory comes from (the live API, an evidence bundle).

Returns plain data; raises `CollectionFailed` (nothing usable: the run fails with the message)
or `kube.Unreachable` (transient: the task may retry).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from clusters import kube
from clusters.bundles import BundleError, read_bundle
from clusters.crypto import CredentialsUnreadable
from clusters.inventory import Inventory
from clusters.kubeconfig import KubeconfigError, in_cluster_credentials
from clusters.models import Cluster, CollectionRun
from clusters.redaction import redact
from clusters.services import cluster_credentials

Progress = Callable[[str], None]


class CollectionFailed(Exception):
    """The source gave nothing usable; the message is shown on the run."""


def inventory_for(run: CollectionRun, progress: Progress) -> Inventory:
    cluster = run.cluster
    if cluster.source_kind == Cluster.SourceKind.BUNDLE:
        if not run.bundle:
            raise CollectionFailed("this run has no evidence bundle")
        progress("reading the evidence bundle")
        try:
            return read_bundle(Path(run.bundle.path))
        except (BundleError, OSError) as exc:
            raise CollectionFailed(f"the evidence bundle cannot be read: {exc}") from exc
    try:
        if cluster.source_kind == Cluster.SourceKind.IN_CLUSTER:
            credentials = in_cluster_credentials()
        else:
            credentials = cluster_credentials(cluster)
    except (KubeconfigError, CredentialsUnreadable) as exc:
        raise CollectionFailed(str(exc)) from exc
    # What the cluster's own secrets look like is known only here: messages lose them too.
    secrets = credentials.secret_values()
    try:
        inventory = kube.collect(
            credentials,
            page_size=settings.RAMPART_KUBE_PAGE_SIZE,
            timeout=settings.RAMPART_KUBE_REQUEST_TIMEOUT,
            progress=progress,
        )
    except kube.Unreachable as exc:  # transient: the caller decides whether to retry
        raise kube.Unreachable(redact(str(exc), secrets=secrets)) from None
    except kube.KubeError as exc:  # rejected credentials, not an API server, TLS misconfigured
        raise CollectionFailed(redact(str(exc), secrets=secrets)) from None
    inventory.kind_errors = {
        key: redact(reason, secrets=secrets) for key, reason in inventory.kind_errors.items()
    }
    return inventory
