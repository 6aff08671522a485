"""Sources: where one run's inventory comes from (the live API, an evidence bundle), and the
provider's description of the cluster beside it (a bundle file, a provider link, an upload).

Returns plain data; raises `CollectionFailed` (nothing usable: the run fails with the message)
or `kube.Unreachable` (transient: the task may retry). A provider that cannot be read never
fails the run: its input is FORBIDDEN or ERROR with a one-line reason and its checks are
unknown (clusters.providers says which source wins).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import orjson
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from clusters import kube
from clusters.bundles import BundleError, read_bundle
from clusters.crypto import CredentialsUnreadable
from clusters.inventory import Inventory, KindStatus
from clusters.kube_bench import (
    KUBE_BENCH,
    MAX_DOCUMENT_BYTES,
    KubeBenchError,
    kube_bench_missing,
    kube_bench_set,
    node_name_checked,
    results_checked,
)
from clusters.kube_http import Limits
from clusters.kubeconfig import Credentials, KubeconfigError, in_cluster_credentials
from clusters.models import Cluster, CollectionRun, NodeBenchmark, ProviderDocument, ProviderLink
from clusters.providers import (
    PROVIDERS,
    DocumentError,
    Provider,
    ProviderError,
    document_checked,
    provider_missing,
    provider_set,
)
from clusters.redaction import redact
from clusters.services import cluster_credentials

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


class CollectionFailed(Exception):
    """The source gave nothing usable; the message is shown on the run."""


def inventory_for(run: CollectionRun, progress: Progress) -> Inventory:
    inventory = _kubernetes_inventory(run, progress)
    provider_inputs(run.cluster, inventory, progress)
    kube_bench_uploads(run.cluster, inventory)
    return inventory


def _kubernetes_inventory(run: CollectionRun, progress: Progress) -> Inventory:
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
            limits=Limits.from_settings(),
        )
    except kube.Unreachable as exc:  # transient: the caller decides whether to retry
        raise kube.Unreachable(redact(str(exc), secrets=secrets)) from None
    except kube.KubeError as exc:  # rejected credentials, not an API server, TLS misconfigured
        raise CollectionFailed(redact(str(exc), secrets=secrets)) from None
    _kube_bench_live(credentials, inventory, progress)
    inventory.kind_errors = {
        key: redact(reason, secrets=secrets) for key, reason in inventory.kind_errors.items()
    }
    return inventory


def _kube_bench_live(credentials: Credentials, inventory: Inventory, progress: Progress) -> None:
    """The latest kube-bench Job's results, when the reader may read them; never fails the
    Kubernetes part (an unreachable server here leaves the input ERROR)."""
    namespace = settings.RAMPART_KUBE_BENCH_NAMESPACE
    progress(f"reading kube-bench results in namespace {namespace}")
    try:
        found = kube.kube_bench_logs(
            credentials,
            namespace=namespace,
            timeout=settings.RAMPART_KUBE_REQUEST_TIMEOUT,
            limit_bytes=MAX_DOCUMENT_BYTES,
        )
    except kube.KubeError as exc:
        kube_bench_missing(inventory, KindStatus.ERROR, str(exc))
        return
    if found.status == KindStatus.FORBIDDEN:
        # An optional input the reader was not granted (deploy/kubernetes adds the rights):
        # nothing was imported, which is what the checks say; the run is not partial for it.
        kube_bench_missing(
            inventory,
            KindStatus.NOT_COLLECTED,
            f"the reader may not read kube-bench Jobs in namespace {namespace}: {found.reason}",
        )
        return
    if found.status is not None:
        kube_bench_missing(inventory, found.status, found.reason)
        return
    nodes, problems = {}, []
    for node, log in sorted(found.logs.items()):
        where = f"pod log of Job {namespace}/{found.job} on {node}"
        try:
            if len(log) > MAX_DOCUMENT_BYTES:
                raise KubeBenchError(f"{where} is larger than {MAX_DOCUMENT_BYTES:,} bytes")
            document = orjson.loads(log)
            nodes[node_name_checked(node)] = {
                "source": where,
                "results": results_checked(document, where=where),
            }
        except orjson.JSONDecodeError:
            problems.append(f"{where} is not JSON: was kube-bench run with --json?")
        except KubeBenchError as exc:
            problems.append(str(exc))
    if nodes:
        kube_bench_set(inventory, nodes, problems=problems)
    else:
        kube_bench_missing(inventory, KindStatus.ERROR, "; ".join(problems))


def kube_bench_uploads(cluster: Cluster, inventory: Inventory) -> None:
    """Uploaded runs stand in where neither the bundle nor the live cluster gave any."""
    if inventory.kind_status.get(KUBE_BENCH.key) == KindStatus.OK:
        return
    uploads = list(NodeBenchmark.objects.filter(cluster=cluster))
    if uploads:
        nodes = {
            upload.node: {
                "source": f"{upload.file_name} uploaded "
                f"{timezone.localtime(upload.uploaded_at):%Y-%m-%d %H:%M}",
                "results": upload.results,
            }
            for upload in uploads
        }
        kube_bench_set(inventory, nodes)
    elif KUBE_BENCH.key not in inventory.kind_status:
        kube_bench_missing(inventory, KindStatus.NOT_COLLECTED, "no kube-bench results imported")


def provider_inputs(cluster: Cluster, inventory: Inventory, progress: Progress) -> None:
    """Each provider's document: the bundle's own file, else the link, else the last upload."""
    link = ProviderLink.objects.filter(cluster=cluster).first()
    uploads = {doc.kind: doc for doc in ProviderDocument.objects.filter(cluster=cluster)}
    for provider in PROVIDERS.values():
        key = provider.input.key
        if inventory.kind_status.get(key) == KindStatus.OK:
            continue  # the bundle's file: evidence of the same moment as the rest
        if link is not None and link.kind == provider.kind:
            progress(f"reading {link.target} from the {provider.label} API")
            _read_link(inventory, provider, link)
        elif (upload := uploads.get(provider.kind)) is not None:
            _read_upload(inventory, provider, upload)
        elif inventory.kind_status.get(key) not in (KindStatus.ERROR, KindStatus.FORBIDDEN):
            provider_missing(
                inventory,
                provider,
                KindStatus.NOT_COLLECTED,
                f"no {provider.bundle_file} in a bundle, no {provider.label} provider link and "
                "no uploaded document",
            )


def _read_link(inventory: Inventory, provider: Provider, link: ProviderLink) -> None:
    try:
        fetched = provider.source().fetch(link, timeout=settings.RAMPART_PROVIDER_REQUEST_TIMEOUT)
        extras = {name: value for name, value in fetched.items() if name != "cluster"}
        document = document_checked(
            provider, fetched.get("cluster"), where=f"the {provider.label} API's answer"
        )
    except ProviderError as exc:
        status = KindStatus.FORBIDDEN if exc.forbidden else KindStatus.ERROR
        provider_missing(inventory, provider, status, redact(str(exc)))
        return
    except (DocumentError, CredentialsUnreadable) as exc:
        provider_missing(inventory, provider, KindStatus.ERROR, redact(str(exc)))
        return
    except SoftTimeLimitExceeded:
        raise  # the pipeline fails the run once, with the reason
    except Exception as exc:  # a bug in a provider client must not fail the Kubernetes part
        logger.exception("reading %s for %s failed", link.target, link.cluster)
        reason = redact(f"{type(exc).__name__}: {exc}")
        provider_missing(inventory, provider, KindStatus.ERROR, reason)
        return
    provider_set(
        inventory, provider, document, source=f"{provider.label} API: {link.target}", **extras
    )


def _read_upload(inventory: Inventory, provider: Provider, upload: ProviderDocument) -> None:
    when = timezone.localtime(upload.uploaded_at).strftime("%Y-%m-%d %H:%M")
    provider_set(inventory, provider, upload.document, source=f"{upload.file_name} uploaded {when}")
