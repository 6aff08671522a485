"""Hostile archives, built in code at test time (never committed at size): zip and tar bombs,
gzip of zeros, links and special files, and plain tar.gz / zip packing of a bundle directory.

An archive case is refused outright, within a second and flat memory; the bundles inside are
hostile_bundles.py's.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import zipfile
import zlib
from functools import cache
from pathlib import Path

import orjson

from clusters.tests.hostile_bundles import clean_files

GIB = 1 << 30
# zlib.crc32(bytes(GIB)): the checksum a real zip or gzip of 1 GiB of zeros carries.
CRC_OF_A_GIB_OF_ZEROS = 0x5B64C2B0


def tar_gz(directory: Path, target: Path, *, compresslevel: int = 9) -> Path:
    """The files of `directory` as a bundle archive (`compresslevel=0`: as large as they are)."""
    with tarfile.open(target, "w:gz", compresslevel=compresslevel) as archive:
        for file in sorted(directory.iterdir()):
            archive.add(file, arcname=file.name)
    return target


def zip_of(directory: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.iterdir()):
            archive.write(file, arcname=file.name)
    return target


# --- Bombs, generated at test time -----------------------------------------------------------


@cache
def deflated_gib_of_zeros() -> bytes:
    """A raw deflate stream of 1 GiB of zeros (~1 MB), built in a quarter of a second.

    After a full flush zlib's state is reset, so every 16 MiB segment compresses to the same
    bytes: compress one, repeat it 64 times, then finish the stream.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(bytes(16 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return segment * 64 + compressor.flush(zlib.Z_FINISH)


def zip_bomb(target: Path, *, members: int = 1, declared: int | None = None) -> Path:
    """`members` entries of 1 GiB of zeros each, written by hand to reuse one deflate stream.

    `declared` makes the headers lie about the expanded size (a bomb that hides its size).
    """
    data = deflated_gib_of_zeros()
    size = GIB if declared is None else declared
    crc = CRC_OF_A_GIB_OF_ZEROS if declared is None else zlib.crc32(bytes(declared))
    local_headers: list[tuple[bytes, int]] = []
    with target.open("wb") as out:
        for index in range(members):
            name = b"pods.json" if index == 0 else f"pods-{index}.json".encode()
            local_headers.append((name, out.tell()))
            out.write(
                struct.pack(
                    "<4s5H3L2H",
                    b"PK\x03\x04",
                    20,
                    0,
                    8,
                    0,
                    0x21,
                    crc,
                    len(data),
                    size,
                    len(name),
                    0,
                )
            )
            out.write(name)
            out.write(data)
        directory_start = out.tell()
        for name, offset in local_headers:
            out.write(
                struct.pack(
                    "<4s6H3L5H2L",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    8,
                    0,
                    0x21,
                    crc,
                    len(data),
                    size,
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    0o100644 << 16,
                    offset,
                )
            )
            out.write(name)
        directory_size = out.tell() - directory_start
        out.write(
            struct.pack(
                "<4s4H2LH",
                b"PK\x05\x06",
                0,
                0,
                members,
                members,
                directory_size,
                directory_start,
                0,
            )
        )
    return target


def tar_gz_bomb(target: Path, *, members: int = 1) -> Path:
    """A .tar.gz of `members` files of 1 GiB of zeros: gzip members concatenated, as gzip allows."""
    zeros = (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        + deflated_gib_of_zeros()
        + struct.pack("<2L", CRC_OF_A_GIB_OF_ZEROS, GIB & 0xFFFFFFFF)
    )
    with target.open("wb") as out:
        for index in range(members):
            info = tarfile.TarInfo("pods.json" if index == 0 else f"pods-{index}.json")
            info.size = GIB
            out.write(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)))
            out.write(zeros)
        out.write(gzip.compress(bytes(1024)))
    return target


def gzip_of_zeros(target: Path) -> Path:
    """1 GiB of zeros gzipped: not a tar at all, however far it is expanded."""
    target.write_bytes(
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        + deflated_gib_of_zeros()
        + struct.pack("<2L", CRC_OF_A_GIB_OF_ZEROS, GIB & 0xFFFFFFFF)
    )
    return target


def tar_with(target: Path, entries: list[tarfile.TarInfo], *, data: bytes = b"{}") -> Path:
    with tarfile.open(target, "w:gz") as archive:
        for info in entries:
            if info.isfile():
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return target


def tar_entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def zip_with_symlink(target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("version.json", orjson.dumps(clean_files()["version.json"]))
        link = zipfile.ZipInfo("pods.json")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    return target


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
