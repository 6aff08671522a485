"""Reading evidence-bundle files out of a directory, a .tar.gz or a .zip, within hard limits.

An uploaded archive is hostile until read: a 1 MB zip can declare (or hide) 10 GiB, a tar.gz
has no trustworthy size until it is decompressed, a member may be a link to /etc/passwd, and a
bundle directory may hold a symlink out of itself. So archives are read member by member in
memory, never extracted to disk; counts and sizes are checked from the headers before
anything is expanded, and enforced again while reading (bytes are counted as they are
decompressed, so a lying header stops at the cap); links and devices are refused, never
followed. The expanded size may not exceed MAX_EXPANDED_BYTES nor MAX_COMPRESSION_RATIO times
the archive (with a small allowance), so a bomb is refused in milliseconds and flat memory.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

# One member may be large (50,000 pods is ~1 GB of kubectl JSON).
MAX_MEMBER_BYTES = 2 * 1024 * 1024 * 1024
MAX_EXPANDED_BYTES = 4 * 1024 * 1024 * 1024
# kubectl JSON compresses 10-30x; 100x leaves room and still refuses a 1 MB -> 1 GiB bomb.
MAX_COMPRESSION_RATIO = 100
_RATIO_ALLOWANCE = 16 * 1024 * 1024  # a tiny archive of small files may compress better
MAX_ENTRIES = 2_000  # every entry an archive lists: files, directories, links
MAX_FILES = 500  # the files a bundle is read from (.json and the errors file)
_CHUNK = 1024 * 1024


class ArchiveError(ValueError):
    """The bundle cannot be read within the limits; the message is one line for a person."""


Wanted = Callable[[str], bool]


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def bundle_files(path: Path, wanted: Wanted) -> Iterator[tuple[str, bytes | bytearray]]:
    """(path inside the bundle, content) of every wanted regular file, in archive order.

    `wanted` is asked about each file's base name. (The bundle itself may be reached through a
    link: whoever names it chose it; what is refused is a link inside it.)
    """
    if path.is_dir():
        yield from _directory_files(path, wanted)
        return
    if not path.is_file():
        raise ArchiveError(f"{path.name} does not exist")
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        yield from _zip_files(path, wanted)
    else:
        yield from _tar_files(path, wanted, magic)


def expansion_limit(archive_bytes: int) -> int:
    """The most an archive of this size may expand to."""
    return min(MAX_EXPANDED_BYTES, MAX_COMPRESSION_RATIO * archive_bytes + _RATIO_ALLOWANCE)


def _too_big(what: str, size: int, limit: int) -> ArchiveError:
    return ArchiveError(
        f"{what} expands to {size:,} bytes, more than the {limit:,} allowed "
        f"(at most {MAX_COMPRESSION_RATIO}x the archive, {MAX_EXPANDED_BYTES:,} in all, "
        f"{MAX_MEMBER_BYTES:,} per file): refused before expanding it"
    )


def _directory_files(root: Path, wanted: Wanted) -> Iterator[tuple[str, bytes | bytearray]]:
    """Regular files under `root`; a link or device is refused, never followed out of it."""
    files: list[tuple[Path, int]] = []
    total = 0
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        for name in subdirectories:
            if (Path(directory) / name).is_symlink():
                raise ArchiveError(
                    f"{_relative(root, Path(directory) / name)} is a symbolic link to a "
                    "directory; a bundle directory must hold its files itself"
                )
        for name in sorted(names):
            file = Path(directory) / name
            if not wanted(name):
                continue
            info = file.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise ArchiveError(
                    f"{_relative(root, file)} is a symbolic link; Rampart does not follow links "
                    "out of a bundle directory: copy the file in instead"
                )
            if not stat.S_ISREG(info.st_mode):
                raise ArchiveError(f"{_relative(root, file)} is not a regular file")
            if info.st_size > MAX_MEMBER_BYTES:
                raise _too_big(_relative(root, file), info.st_size, MAX_MEMBER_BYTES)
            total += info.st_size
            if total > MAX_EXPANDED_BYTES:
                raise _too_big(root.name, total, MAX_EXPANDED_BYTES)
            files.append((file, info.st_size))
            if len(files) > MAX_FILES:
                raise ArchiveError(f"{root.name} holds more than {MAX_FILES} JSON files")
    for file, size in sorted(files):
        # O_NOFOLLOW: a file swapped for a link since the walk is refused, not followed.
        try:
            descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise ArchiveError(f"cannot read {_relative(root, file)}: {exc.strerror}") from None
        with os.fdopen(descriptor, "rb") as handle:
            yield _relative(root, file), _read_capped(handle, size, _relative(root, file))


def _relative(root: Path, file: Path) -> str:
    return file.relative_to(root).as_posix()


def _zip_files(path: Path, wanted: Wanted) -> Iterator[tuple[str, bytes | bytearray]]:
    budget = expansion_limit(path.stat().st_size)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise ArchiveError(f"the archive lists more than {MAX_ENTRIES:,} entries")
            declared = sum(info.file_size for info in infos)
            if declared > budget:
                raise _too_big("the archive", declared, budget)
            files = []
            for info in infos:
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise ArchiveError(f"{info.filename[:200]} is a symbolic link; refused")
                # No type bits at all (Windows tools, zipfile.writestr) means a plain file.
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise ArchiveError(f"{info.filename[:200]} is not a regular file; refused")
                if not info.is_dir() and wanted(PurePosixPath(info.filename).name):
                    files.append(info)
            if len(files) > MAX_FILES:
                raise ArchiveError(f"the archive holds more than {MAX_FILES} JSON files")
            for info in files:
                if info.file_size > MAX_MEMBER_BYTES:
                    raise _too_big(info.filename[:200], info.file_size, MAX_MEMBER_BYTES)
                # zipfile stops at the declared size and fails the CRC of a member that lied.
                with archive.open(info) as member:
                    data = _read_capped(member, info.file_size, info.filename[:200])
                yield info.filename, data
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error) as exc:
        raise ArchiveError(f"the zip archive is truncated or corrupt: {exc}") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, or an unknown compression
        raise ArchiveError(f"the zip archive cannot be read: {exc}") from None


def _tar_files(path: Path, wanted: Wanted, magic: bytes) -> Iterator[tuple[str, bytes | bytearray]]:
    budget = expansion_limit(path.stat().st_size)
    with path.open("rb") as raw:
        stream = _CountingReader(_decompressor(raw, magic), budget)
        try:
            # Stream mode ("r|"): headers are read in order as the data is decompressed; nothing
            # seeks back, and nothing is decompressed that the counter does not see.
            # (typeshed wants a full file object; tarfile's stream mode only calls read().)
            with tarfile.open(fileobj=stream, mode="r|") as archive:  # type: ignore[call-overload]
                yield from _tar_entries(archive, wanted, budget)
        except ArchiveError:
            raise
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            raise ArchiveError(f"the archive is truncated or not a .tar.gz/.zip: {exc}") from None


def _tar_entries(
    archive: tarfile.TarFile, wanted: Wanted, budget: int
) -> Iterator[tuple[str, bytes | bytearray]]:
    entries = files = declared = 0
    for member in archive:
        entries += 1
        if entries > MAX_ENTRIES:
            raise ArchiveError(f"the archive lists more than {MAX_ENTRIES:,} entries")
        name = member.name[:200]
        if member.issym() or member.islnk():
            raise ArchiveError(f"{name} is a link; a bundle holds regular files only")
        if member.isdev() or member.isfifo():
            raise ArchiveError(f"{name} is a device or pipe; a bundle holds regular files only")
        declared += member.size
        if declared > budget:
            raise _too_big("the archive", declared, budget)
        if not member.isfile() or not wanted(PurePosixPath(member.name).name):
            continue
        files += 1
        if files > MAX_FILES:
            raise ArchiveError(f"the archive holds more than {MAX_FILES} JSON files")
        if member.size > MAX_MEMBER_BYTES:
            raise _too_big(name, member.size, MAX_MEMBER_BYTES)
        extracted = archive.extractfile(member)
        if extracted is None:
            continue
        yield member.name, _read_capped(extracted, member.size, name)


def _decompressor(raw: IO[bytes], magic: bytes) -> _Readable:
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")
    return raw  # a plain .tar, or not an archive at all (tarfile says which)


class _CountingReader:
    """A file-like view of a decompressed stream that stops at `limit` bytes.

    A gzip bomb has no header to distrust: its expanded size is only known by expanding it, so
    the bytes are counted as they come and reading stops at the cap.
    """

    def __init__(self, stream: _Readable, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        data = self.stream.read(min(size, self.limit - self.count + 1))
        self.count += len(data)
        if self.count > self.limit:
            raise ArchiveError(
                f"the archive expands to more than {self.limit:,} bytes (at most "
                f"{MAX_COMPRESSION_RATIO}x its size, {MAX_EXPANDED_BYTES:,} in all): "
                "refused while expanding it"
            )
        return data

    def close(self) -> None:
        self.stream.close()


def _read_capped(member: _Readable, declared: int, name: str) -> bytearray:
    """Exactly the `declared` bytes: a member longer than its header says is refused."""
    buffer = bytearray(declared)
    view = memoryview(buffer)
    filled = 0
    while filled < declared:
        chunk = member.read(min(_CHUNK, declared - filled))
        if not chunk:
            break
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    view.release()
    if filled < declared:
        del buffer[filled:]
    if member.read(1):
        raise ArchiveError(f"{name} holds more data than its header declares; refused")
    return buffer
