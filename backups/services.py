"""Back up and restore a Rampart installation: its database and its stored files.

The database travels as Django's dumpdata JSON, on SQLite and PostgreSQL alike: one code path,
tested on both, needing no pg_dump matching the server's version in the image, and an archive
that restores into either engine. The rows are read inside one transaction (REPEATABLE READ on
PostgreSQL), so a collection finishing meanwhile is either wholly in the backup or not at all.

The encryption keys are NOT in the backup, on purpose: a stolen archive then holds no usable
cluster credential. The manifest records their fingerprints, and a restore says which
clusters' credentials the configured keys cannot decrypt.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from backups import archive as fmt
from backups.archive import BackupError
from backups.serializer import FORMAT_NAME
from clusters import crypto
from clusters.models import Cluster

# Rebuilt by `migrate` (content types, permissions) or not worth keeping (sessions: everyone
# signs in again; login lockouts in progress).
EXCLUDED = [
    "contenttypes",
    "auth.permission",
    "sessions",
    "axes.accessattempt",
    "axes.accessattemptexpiration",
]


@dataclass
class BackupSummary:
    path: Path
    objects: int
    media_files: int
    key_fingerprints: list[str]


@dataclass
class RestoreSummary:
    objects: int
    media_files: int
    clusters: int
    unreadable_credentials: list[str] = field(default_factory=list)
    missing_media: list[str] = field(default_factory=list)


def _applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def _media_files() -> dict[str, Path]:
    """Every file a FileField in the database points at, by its name under MEDIA_ROOT."""
    files: dict[str, Path] = {}
    root = Path(settings.MEDIA_ROOT)
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            if not isinstance(model_field, models.FileField):
                continue
            names = (
                model._default_manager.exclude(**{model_field.name: ""})
                .values_list(model_field.name, flat=True)
                .distinct()
            )
            for name in names:
                files[str(name)] = root / str(name)
    return files


def _dump_database(path: Path) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Must be the transaction's first statement: every table is read at one instant.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        call_command(
            "dumpdata",
            *[f"--exclude={label}" for label in EXCLUDED],
            format=FORMAT_NAME,
            natural_foreign=True,
            natural_primary=True,
            output=str(path),
            verbosity=0,
        )


def backup_create(*, output: Path) -> BackupSummary:
    """Write a backup of the database and the stored files to `output` (.tar.gz, mode 0600)."""
    output = output.expanduser()
    if not output.parent.is_dir():
        raise BackupError(f"{output.parent} is not a folder")
    with tempfile.TemporaryDirectory(prefix="rampart-backup-") as scratch:
        dump = Path(scratch) / fmt.DATABASE
        _dump_database(dump)
        objects = len(orjson.loads(dump.read_bytes()))
        media = {name: path for name, path in _media_files().items() if path.is_file()}
        manifest = {
            "format": fmt.FORMAT,
            "version": fmt.FORMAT_VERSION,
            "created_at": timezone.now().isoformat(),
            "database_engine": connection.vendor,
            "migrations": _applied_migrations(),
            "encryption_key_fingerprints": crypto.key_fingerprints(),
            "objects": objects,
            "media": {
                name: {"size": path.stat().st_size, "sha256": fmt.sha256_file(path)}
                for name, path in sorted(media.items())
            },
        }
        # Written beside the target and renamed: a failed backup never leaves a half archive
        # under the name the operator will later trust.
        descriptor, partial_name = tempfile.mkstemp(
            prefix=f".{output.name}.", suffix=".partial", dir=output.parent
        )
        partial = Path(partial_name)
        try:
            with (
                os.fdopen(descriptor, "wb") as raw,
                fmt.tarfile.open(fileobj=raw, mode="w:gz") as archive,
            ):
                fmt.add_bytes(archive, fmt.MANIFEST, orjson.dumps(manifest))
                fmt.add_file(archive, fmt.DATABASE, dump)
                for name, path in sorted(media.items()):
                    fmt.add_file(archive, fmt.media_name(name), path)
            partial.chmod(0o600)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    return BackupSummary(
        path=output,
        objects=objects,
        media_files=len(media),
        key_fingerprints=manifest["encryption_key_fingerprints"],  # type: ignore[arg-type]
    )


def _database_is_empty() -> bool:
    return not Cluster.objects.exists() and not get_user_model().objects.exists()


def _check_migrations(manifest: dict[str, Any]) -> None:
    wanted = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    here = {(app, name) for app, names in _applied_migrations().items() for name in names}
    if wanted == here:
        return
    if wanted - here:
        missing = ", ".join(f"{app}.{name}" for app, name in sorted(wanted - here)[:5])
        raise BackupError(
            f"the backup was taken at migrations this database lacks ({missing}): run "
            "`manage.py migrate` with the Rampart version that made it, then restore"
        )
    newer = ", ".join(f"{app}.{name}" for app, name in sorted(here - wanted)[:5])
    raise BackupError(
        f"this database has migrations the backup predates ({newer}): restore with the "
        "Rampart version that made the backup, then upgrade"
    )


def _stage_media(opened: fmt.Opened, staging: Path) -> tuple[int, Path | None]:
    """Copy the media members into `staging`, checked against the manifest; and the dump."""
    expected: dict[str, dict[str, Any]] = opened.manifest.get("media") or {}
    seen: set[str] = set()
    dump: Path | None = None
    for member in opened.members():
        if member.name == fmt.MANIFEST:
            continue
        if member.name == fmt.DATABASE:
            # loaddata picks the serializer by the file's extension.
            dump = staging.parent / f"{staging.name}.{FORMAT_NAME}"
            with opened.read(member) as source, dump.open("wb") as target:
                shutil.copyfileobj(source, target, fmt.CHUNK)
            continue
        relative = fmt.safe_media_path(member.name)
        if relative is None:
            raise BackupError(f"the archive holds an unexpected file: {member.name!r}")
        name = str(relative)
        if name not in expected:
            raise BackupError(f"the archive holds a file its manifest does not list: {name!r}")
        target_path = staging / relative
        target_path.parent.mkdir(parents=True, exist_ok=True)
        with opened.read(member) as source, target_path.open("wb") as target:
            shutil.copyfileobj(source, target, fmt.CHUNK)
        if fmt.sha256_file(target_path) != expected[name]["sha256"]:
            raise BackupError(f"{name} in the archive does not match its checksum: damaged backup")
        seen.add(name)
    if dump is None:
        raise BackupError(f"the archive holds no {fmt.DATABASE}")
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive lacks {len(missing)} listed files, e.g. {missing[0]!r}")
    return len(seen), dump


def _unreadable_credentials() -> list[str]:
    names = []
    for cluster in Cluster.objects.exclude(credentials=b"").only("name", "credentials"):
        try:
            crypto.decrypt(bytes(cluster.credentials))
        except crypto.CredentialsUnreadable:
            names.append(cluster.name)
    return sorted(names)


def backup_restore(*, path: Path, replace: bool = False) -> RestoreSummary:
    """Restore a backup into this installation's database and MEDIA_ROOT.

    The database must be freshly migrated (no clusters, no users) unless `replace`, which first
    deletes every row. Nothing is changed until the archive has been read and checked whole.
    """
    opened = fmt.open_archive(path.expanduser())
    with opened.archive:
        _check_migrations(opened.manifest)
        if not replace and not _database_is_empty():
            raise BackupError(
                "this database already holds clusters or users: restore into a freshly "
                "migrated database, or pass --replace to delete everything in it first"
            )
        return _restore(opened, replace=replace)


def _restore(opened: fmt.Opened, *, replace: bool) -> RestoreSummary:
    media_root = Path(settings.MEDIA_ROOT)
    media_root.mkdir(parents=True, exist_ok=True)
    # Staged inside MEDIA_ROOT, so moving each file into place is a rename on one filesystem.
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=media_root))
    dump: Path | None = None
    try:
        media_files, dump = _stage_media(opened, staging)
        with transaction.atomic():
            if replace:
                call_command("flush", interactive=False, verbosity=0)
            call_command("loaddata", str(dump), verbosity=0)
        for staged in sorted(p for p in staging.rglob("*") if p.is_file()):
            target = media_root / staged.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(target)
        # Cached pages (trends, fragments) describe the database that was replaced.
        cache.clear()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if dump is not None:
            dump.unlink(missing_ok=True)
    return RestoreSummary(
        objects=int(opened.manifest.get("objects") or 0),
        media_files=media_files,
        clusters=Cluster.objects.count(),
        unreadable_credentials=_unreadable_credentials(),
        missing_media=sorted(name for name, p in _media_files().items() if not p.is_file()),
    )
