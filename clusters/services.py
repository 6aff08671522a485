"""Writes of the clusters app: registering clusters and requesting collections."""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from kombu.exceptions import OperationalError as KombuOperationalError

from clusters import crypto
from clusters.addresses import AddressRefused, AddressUnresolved, server_addresses
from clusters.archives import ArchiveError, bundle_files
from clusters.bundles import BundleError, is_bundle_file, read_bundle
from clusters.collection import runs_fail_stale
from clusters.kubeconfig import Credentials, KubeconfigError, parse_kubeconfig
from clusters.models import Cluster, ClusterOwner, CollectionRun, ProviderLink
from clusters.page_cache import page_data_changed
from clusters.redaction import redact

logger = logging.getLogger(__name__)


class RegistrationError(ValueError):
    """A registration was refused; the message says why in words a person can act on."""


class CollectionAlreadyActive(Exception):
    def __init__(self, run: CollectionRun) -> None:
        super().__init__(f"{run.cluster} is already being collected (run {run.pk}, {run.status})")
        self.run = run


# Path segments under /clusters/ that are pages, not clusters.
RESERVED_NAMES = frozenset({"new"})


def _validated_name(name: str) -> str:
    slug = slugify(name)
    if not slug or slug != name:
        raise RegistrationError(
            f"cluster name {name!r} must be lowercase letters, digits and dashes (try {slug!r})"
        )
    if slug in RESERVED_NAMES:
        raise RegistrationError(
            f"{slug!r} is reserved by the dashboard's URLs; choose another name"
        )
    if Cluster.objects.filter(name=slug).exists():
        raise RegistrationError(f"a cluster named {slug!r} is already registered")
    return slug


def _validated_owners(owners: Iterable[str]) -> list[str]:
    emails = []
    for owner in owners:
        try:
            validate_email(owner)
        except ValidationError as exc:
            raise RegistrationError(f"owner {owner!r} is not an email address") from exc
        emails.append(owner.lower())
    return sorted(set(emails))


def _pack_bundle_directory(directory: Path) -> Path:
    """Store a directory bundle as one .tar.gz, so later edits to the directory change nothing.

    Files are read the way read_bundle reads them (regular files only, within the limits); the
    packed archive is what is then checked and stored. The caller removes it.
    """
    handle = tempfile.NamedTemporaryFile(prefix="rampart-bundle-", suffix=".tar.gz", delete=False)  # noqa: SIM115
    handle.close()
    packed = Path(handle.name)
    try:
        with tarfile.open(packed, "w:gz") as archive:
            for name, content in bundle_files(directory, is_bundle_file):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    except ArchiveError as exc:
        packed.unlink(missing_ok=True)
        raise RegistrationError(f"the evidence bundle cannot be read: {exc}") from None
    except OSError as exc:
        packed.unlink(missing_ok=True)
        raise RegistrationError(f"the evidence bundle cannot be packed: {exc.strerror}") from None
    return packed


def _check_bundle(path: Path) -> None:
    try:
        read_bundle(path)
    except BundleError as exc:
        raise RegistrationError(f"the evidence bundle cannot be read: {exc}") from exc


def _check_upload_size(size: int) -> None:
    if size > settings.RAMPART_MAX_UPLOAD_BYTES:
        raise RegistrationError(
            f"the bundle is {size:,} bytes; the limit is {settings.RAMPART_MAX_UPLOAD_BYTES:,} "
            "(RAMPART_MAX_UPLOAD_BYTES)"
        )


@transaction.atomic
def cluster_register(
    *,
    name: str,
    source_kind: str,
    kubeconfig: str | None = None,
    context: str | None = None,
    bundle_path: Path | None = None,
    bundle_upload: IO[bytes] | None = None,
    bundle_upload_name: str = "bundle.tar.gz",
    environment: str = "",
    description: str = "",
    owners: Iterable[str] = (),
    by: AbstractBaseUser | None = None,
    collect: bool = True,
) -> Cluster:
    """Register a cluster from a kubeconfig, the in-cluster identity, or an evidence bundle.

    Credentials are validated before anything is stored (a kubeconfig that would run a command
    or read a file is refused) and stored encrypted. A first collection is requested.
    """
    slug = _validated_name(name)
    owner_emails = _validated_owners(owners)
    cluster = Cluster(
        name=slug,
        source_kind=source_kind,
        environment=environment.strip().lower(),
        description=description,
        created_by=by,  # type: ignore[misc]
    )
    # Temporary copies of a bundle live until it is stored by collection_request, no longer.
    with ExitStack() as cleanup:
        bundle_file: File | None = None
        if source_kind == Cluster.SourceKind.KUBECONFIG:
            if not kubeconfig:
                raise RegistrationError("a kubeconfig is required")
            _store_credentials(cluster, _checked_credentials(kubeconfig, context))
        elif source_kind == Cluster.SourceKind.IN_CLUSTER:
            # The pod's own service account is read when collecting, on the worker that runs
            # in the cluster; nothing secret is stored.
            cluster.api_server = "https://kubernetes.default.svc"
        elif source_kind == Cluster.SourceKind.BUNDLE:
            bundle_file = cleanup.enter_context(
                _bundle_to_store(bundle_path, bundle_upload, bundle_upload_name)
            )
            # Bundles are evidence of one moment: re-collected only when a new one is uploaded.
            cluster.schedule_enabled = False
        else:
            raise RegistrationError(f"unknown source kind {source_kind!r}")
        cluster.save()
        ClusterOwner.objects.bulk_create(
            ClusterOwner(cluster=cluster, email=e) for e in owner_emails
        )
        if collect:
            collection_request(
                cluster=cluster,
                trigger=CollectionRun.Trigger.REGISTRATION,
                by=by,
                bundle=bundle_file,
            )
    return cluster


@contextmanager
def _bundle_to_store(
    path: Path | None, upload: IO[bytes] | None, upload_name: str
) -> Iterator[File]:
    """The validated bundle as a File ready to store; every temporary copy removed on exit.

    Django keeps a large upload in a temporary file of its own (and deletes it): that file is
    read in place. A small upload lives in memory and is spooled to disk once to be read. A
    directory is packed into an archive first. Nothing is left in $TMPDIR, whatever happens.
    """
    temporary: list[Path] = []
    handle: IO[bytes] | None = None
    try:
        if path is not None:
            source, name = _bundle_source(Path(path), temporary)
        else:
            source, name = _upload_source(upload, upload_name, temporary)
        _check_bundle(source)
        handle = source.open("rb")
        yield File(handle, name=name)
    finally:
        if handle is not None:
            handle.close()
        for file in temporary:
            file.unlink(missing_ok=True)


def _bundle_source(path: Path, temporary: list[Path]) -> tuple[Path, str]:
    if path.is_dir():
        packed = _pack_bundle_directory(path)
        temporary.append(packed)
        return packed, f"{path.name}.tar.gz"
    if not path.is_file():
        raise RegistrationError(f"{path} does not exist")
    _check_upload_size(path.stat().st_size)
    return path, path.name


def _upload_source(
    upload: IO[bytes] | None, upload_name: str, temporary: list[Path]
) -> tuple[Path, str]:
    if upload is None:
        raise RegistrationError("an evidence bundle (.tar.gz or .zip) is required")
    suffix = ".zip" if upload_name.lower().endswith(".zip") else ".tar.gz"
    name = Path(upload_name).name or f"bundle{suffix}"
    declared = getattr(upload, "size", None)
    if isinstance(declared, int):
        _check_upload_size(declared)  # before a byte of it is copied anywhere
    in_place = getattr(upload, "temporary_file_path", None)
    if callable(in_place):
        source = Path(in_place())
    else:
        with tempfile.NamedTemporaryFile(
            prefix="rampart-upload-", suffix=suffix, delete=False
        ) as spool:
            temporary.append(Path(spool.name))
            shutil.copyfileobj(upload, spool, length=1024 * 1024)
        source = Path(spool.name)
    _check_upload_size(source.stat().st_size)
    return source, name


def _store_credentials(cluster: Cluster, credentials: Credentials) -> None:
    cluster.credentials = crypto.encrypt(credentials.to_json())
    cluster.api_server = credentials.server
    cluster.context_name = credentials.context


def cluster_credentials(cluster: Cluster) -> Credentials:
    return Credentials.from_json(crypto.decrypt(bytes(cluster.credentials)))


def _checked_credentials(kubeconfig: str, context: str | None) -> Credentials:
    """Parsed strictly, and the server's address allowed by the policy (clusters/addresses.py).

    The address is checked here for a clear answer at registration, and again at every
    connection, where the name must resolve and is pinned to the checked address.
    """
    try:
        credentials = parse_kubeconfig(
            kubeconfig, context=context or None, allow_exec=settings.RAMPART_ALLOW_KUBECONFIG_EXEC
        )
    except KubeconfigError as exc:
        raise RegistrationError(str(exc)) from exc
    parts = urlsplit(credentials.server)
    try:
        server_addresses(parts.hostname or "", parts.port or 443)
    except AddressRefused as exc:
        raise RegistrationError(f"the API server address is refused: {exc}") from exc
    except AddressUnresolved:
        pass  # private DNS the worker may see and this process not: checked when connecting
    return credentials


@transaction.atomic
def cluster_update_kubeconfig(*, cluster: Cluster, kubeconfig: str, context: str | None) -> Cluster:
    _store_credentials(cluster, _checked_credentials(kubeconfig, context))
    cluster.save(update_fields=["credentials", "api_server", "context_name"])
    return cluster


def collection_request(
    *,
    cluster: Cluster,
    trigger: str,
    by: AbstractBaseUser | None = None,
    bundle: File | None = None,
    enqueue: bool = True,
) -> CollectionRun:
    """Create a pending run and enqueue its task once the transaction commits.

    One collection per cluster at a time: the database's partial unique index decides, so two
    clicks (or beat and a click) cannot both start one. A run whose worker died (its heartbeat
    is stale) does not count: it is failed here and the new run takes its place.
    """
    create = partial(_collection_create, cluster=cluster, trigger=trigger, by=by, bundle=bundle)
    try:
        try:
            run = create()
        except CollectionAlreadyActive:
            if not runs_fail_stale(cluster_id=cluster.pk):
                raise
            run = create()
    finally:
        if bundle is not None:
            bundle.close()
    # The next scheduled collection counts from this request, so beat does not enqueue the
    # cluster again every minute while this run waits or fails.
    Cluster.objects.filter(pk=cluster.pk).update(
        latest_run=run, next_collection_at=timezone.now() + cluster.collection_interval
    )
    page_data_changed(cluster_id=cluster.pk)  # the fleet shows the run pending
    if enqueue:
        transaction.on_commit(lambda: collection_enqueue(run_id=run.pk))
    return run


def _collection_create(
    *,
    cluster: Cluster,
    trigger: str,
    by: AbstractBaseUser | None,
    bundle: File | None,
) -> CollectionRun:
    if cluster.source_kind == Cluster.SourceKind.BUNDLE and bundle is None:
        previous = cluster.runs.exclude(bundle="").order_by("-created_at").first()
        if previous is None:
            raise RegistrationError(f"{cluster} has no evidence bundle; upload one")
        bundle_name = previous.bundle.name
    else:
        bundle_name = ""
    try:
        with transaction.atomic():
            run = CollectionRun(
                cluster=cluster,
                trigger=trigger,
                requested_by=by,  # type: ignore[misc]
            )
            if bundle is not None:
                run.bundle.save(Path(bundle.name or "bundle.tar.gz").name, bundle, save=False)
            else:
                run.bundle.name = bundle_name
            run.save()
    except IntegrityError:
        active = cluster.runs.active().first()
        if active is None:
            raise
        raise CollectionAlreadyActive(active) from None
    return run


# The pipeline's task (pipeline.tasks.collect) runs a collection; requested by name, since the
# clusters app sits below everything a collection involves.
COLLECT_TASK = "pipeline.tasks.collect"


def collection_enqueue(*, run_id: int) -> bool:
    """Send the run's message. A broker that is down (restarting) does not fail the request:
    the run stays pending, unsent, and the reaper sends it again (runs_resend_lost)."""
    try:
        current_app.send_task(COLLECT_TASK, args=[run_id])
    except (KombuOperationalError, OSError) as exc:
        logger.warning("collection %s not sent, will be sent again: %s", run_id, redact(str(exc)))
        return False
    CollectionRun.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    return True


def runs_resend_lost(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Send again the messages of runs pending RAMPART_RUN_RESEND_SECONDS after they were sent.

    The broker may have lost them (Redis restarted without persistence, the filesystem
    broker's worker killed while holding them). A duplicate is harmless: the run's claim is a
    compare-and-swap, so a message that finds its run taken does nothing.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.RAMPART_RUN_RESEND_SECONDS)
    lost = list(
        CollectionRun.objects.filter(status=CollectionRun.Status.PENDING)
        .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return [run_id for run_id in lost if collection_enqueue(run_id=run_id)]


def bundle_upload(
    *, cluster: Cluster, upload: IO[bytes], upload_name: str, by: AbstractBaseUser | None
) -> CollectionRun:
    if cluster.source_kind != Cluster.SourceKind.BUNDLE:
        raise RegistrationError(f"{cluster} collects from its API server, not from bundles")
    with _bundle_to_store(None, upload, upload_name) as bundle:
        return collection_request(
            cluster=cluster, trigger=CollectionRun.Trigger.UPLOAD, by=by, bundle=bundle
        )


def clusters_enqueue_due(*, now: datetime | None = None) -> list[CollectionRun]:
    """Request a collection for every live cluster whose interval has passed."""
    runs = []
    for cluster in Cluster.objects.due(now).exclude(source_kind=Cluster.SourceKind.BUNDLE):
        try:
            with transaction.atomic():
                runs.append(
                    collection_request(cluster=cluster, trigger=CollectionRun.Trigger.SCHEDULE)
                )
        except CollectionAlreadyActive:
            continue
    return runs


def cluster_owners_set(*, cluster: Cluster, owners: Iterable[str]) -> None:
    emails = _validated_owners(owners)
    with transaction.atomic():
        cluster.owners.exclude(email__in=emails).delete()
        for email in emails:
            ClusterOwner.objects.get_or_create(cluster=cluster, email=email)


@transaction.atomic
def credentials_rotate_all() -> int:
    """Re-encrypt every stored credential with the first configured key; all or nothing.

    Kubeconfig credentials and provider-link keys alike. Raises CredentialsUnreadable, naming
    the clusters, when any credential is readable by no configured key (the old key was
    removed before rotating): nothing is rewritten then, so putting the old key back and
    rotating again loses nothing.
    """
    clusters = Cluster.objects.exclude(credentials=b"").only("pk", "name", "credentials")
    links = ProviderLink.objects.exclude(credentials=b"").select_related("cluster")
    rotated: dict[int, bytes] = {}
    rotated_links: dict[int, bytes] = {}
    unreadable: list[str] = []
    for cluster in clusters.select_for_update().order_by("name"):
        try:
            rotated[cluster.pk] = crypto.rotate(bytes(cluster.credentials))
        except crypto.CredentialsUnreadable:
            unreadable.append(cluster.name)
    for link in links.select_for_update(of=("self",)).order_by("cluster__name"):
        try:
            rotated_links[link.pk] = crypto.rotate(bytes(link.credentials))
        except crypto.CredentialsUnreadable:
            unreadable.append(f"{link.cluster.name} (provider link)")
    if unreadable:
        raise crypto.CredentialsUnreadable(
            f"no key in RAMPART_ENCRYPTION_KEYS decrypts the credentials of "
            f"{', '.join(unreadable)}: put the old key back after the new one and rotate "
            "again (or register those clusters again); nothing was re-encrypted"
        )
    for pk, token in rotated.items():
        Cluster.objects.filter(pk=pk).update(credentials=token)
    for pk, token in rotated_links.items():
        ProviderLink.objects.filter(pk=pk).update(credentials=token)
    return len(rotated) + len(rotated_links)
