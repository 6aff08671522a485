"""The backup archive: one .tar.gz holding

    manifest.json   format version, when, the migrations it was taken at, the fingerprints of
                    the encryption keys its credentials need (never the keys), every media file
                    with its size and SHA-256
    database.rampartjson  every row Rampart owns, as Django's dumpdata writes it (natural
                    keys), with timestamps to the microsecond (backups/serializer.py)
    media/...       the stored files: evidence bundles and attestation evidence

Reading is defensive: only regular files, only names inside media/, each file checked
against the manifest before anything is restored.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import orjson

FORMAT = "rampart-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.rampartjson"
MEDIA = "media"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why in one line."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    archive.addfile(info, _BytesReader(data))


def add_file(archive: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o600
    with path.open("rb") as handle:
        archive.addfile(info, handle)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._offset + size
        chunk = self._data[self._offset : end]
        self._offset += len(chunk)
        return chunk


def media_name(relative: str) -> str:
    return f"{MEDIA}/{relative}"


def safe_media_path(name: str) -> PurePosixPath | None:
    """The path under MEDIA_ROOT a member stands for, or None if it is not a media member."""
    path = PurePosixPath(name)
    if path.parts[:1] != (MEDIA,) or len(path.parts) < 2:
        return None
    relative = PurePosixPath(*path.parts[1:])
    if relative.is_absolute() or any(part in ("", ".", "..") for part in relative.parts):
        raise BackupError(f"the archive holds a file outside the media folder: {name!r}")
    return relative


@dataclass
class Opened:
    manifest: dict[str, Any]
    archive: tarfile.TarFile

    def members(self) -> Iterator[tarfile.TarInfo]:
        for member in self.archive:
            if not member.isfile():
                raise BackupError(
                    f"the archive holds something that is not a file: {member.name!r}"
                )
            yield member

    def read(self, member: tarfile.TarInfo) -> IO[bytes]:
        handle = self.archive.extractfile(member)
        if handle is None:
            raise BackupError(f"{member.name!r} cannot be read from the archive")
        return handle


def open_archive(path: Path) -> Opened:
    """Open a backup and read its manifest (the first member), checking the format."""
    try:
        archive = tarfile.open(path, mode="r:gz")  # noqa: SIM115  (the caller closes it)
        first = archive.next()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{path} is not a Rampart backup (.tar.gz): {exc}") from exc
    if first is None or first.name != MANIFEST or not first.isfile():
        raise BackupError(f"{path} is not a Rampart backup: it does not start with {MANIFEST}")
    handle = archive.extractfile(first)
    try:
        manifest = orjson.loads(handle.read() if handle else b"")
    except orjson.JSONDecodeError as exc:
        raise BackupError(f"{path}: {MANIFEST} is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Rampart backup")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is backup format {manifest.get('version')!r}; this Rampart reads "
            f"format {FORMAT_VERSION}"
        )
    return Opened(manifest=manifest, archive=archive)
