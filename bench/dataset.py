"""Generated fleets kept between bench runs, so `make bench` generates a year of history once.

Generating 1,000 clusters x a year takes many minutes; the pages it serves take seconds to
measure. On PostgreSQL a finished generation is copied into a database of its own (CREATE
DATABASE ... TEMPLATE: a file copy on the server, planner statistics included) named
`<configured>_dataset_<size>` (or BENCH_DATASET_DATABASE + `_<size>`), with one marker row:
the key it was made under and when its history ends. A later run whose key matches copies it
back over the bench database instead of generating.

The key hashes what decides the rows: every migration file (the schema), the generator's own
modules, the sizes and DATASET_VERSION. Change any of them and the next run generates afresh.
SQLite (no DATABASE_URL) keeps nothing: every run generates.

The bench database is replaced by a copy, never used as the kept one: the storage section
prunes it, and the page section adds a login; the kept dataset stays as generated.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.env import BenchEnv, maintenance_url
from bench.proc import ROOT

# Bump when what the generator writes changes outside the hashed files. This module is not
# hashed: how a dataset is kept does not decide its rows.
DATASET_VERSION = 1
_GENERATOR = (
    "bench/bulk.py",
    "bench/changes.py",
    "bench/cluster_story.py",
    "bench/history.py",
    "bench/stored_rows.py",
    "bench/synth.py",
    "bench/shapes.py",
    "bench/podfields.py",
)
_MARKER = "bench_dataset_marker"


@dataclass(frozen=True)
class Kept:
    key: str
    now: datetime
    meta: dict[str, Any]


def dataset_key(*, clusters: int, days: int, start: int = 0) -> str:
    digest = hashlib.sha256(f"v{DATASET_VERSION} {start}-{clusters} x {days}".encode())
    files = sorted(ROOT.glob("*/migrations/*.py")) + [ROOT / name for name in _GENERATOR]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _name(env: BenchEnv, label: str) -> str:
    base = os.environ.get("BENCH_DATASET_DATABASE") or (
        urlsplit(env.admin_url).path.lstrip("/") + "_dataset"
    )
    return f"{base}_{label}"


def _bench_name(env: BenchEnv) -> str:
    return urlsplit(env.database_url).path.lstrip("/")


def _admin(env: BenchEnv) -> Any:
    import psycopg

    return psycopg.connect(maintenance_url(env.admin_url), autocommit=True)


def kept(env: BenchEnv, *, label: str, key: str) -> Kept | None:
    """The kept dataset `label` if it was made under `key`."""
    if env.database != "postgresql":
        return None
    import psycopg

    name = _name(env, label)
    with _admin(env) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return None
    url = urlsplit(env.admin_url)._replace(path=f"/{name}").geturl()
    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            row = conn.execute(f"SELECT key, now, meta FROM {_MARKER}").fetchone()  # noqa: S608 (a constant)
    except psycopg.Error as exc:
        print(f"bench.dataset: {name} unreadable, generating: {exc}", file=sys.stderr)
        return None
    if row is None or row[0] != key:
        print(f"bench.dataset: {name} was made under another key, generating", file=sys.stderr)
        return None
    return Kept(key=row[0], now=datetime.fromisoformat(row[1]), meta=orjson.loads(row[2]))


def restore(env: BenchEnv, *, label: str) -> None:
    """Replace the bench database with a copy of the kept dataset `label`."""
    from django.db import connections

    connections.close_all()
    bench = _bench_name(env)
    with _admin(env) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench}" TEMPLATE "{_name(env, label)}"')
        conn.execute(f'ALTER DATABASE "{bench}" OWNER TO CURRENT_USER')
    with connections["default"].cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_MARKER}")


def keep(env: BenchEnv, *, label: str, key: str, now: datetime, meta: dict[str, Any]) -> bool:
    """Copy the bench database, as it is now, into the kept dataset `label`."""
    if env.database != "postgresql":
        return False
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {_MARKER} (key text, now text, meta text)")
        cursor.execute(
            f"INSERT INTO {_MARKER} VALUES (%s, %s, %s)",  # noqa: S608 (a constant)
            [key, now.isoformat(), orjson.dumps(meta).decode()],
        )
    connections.close_all()  # a template database must have no other connection
    name = _name(env, label)
    with _admin(env) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_bench_name(env)}"')
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {_MARKER}")
    return True


def size(env: BenchEnv) -> str:
    from django.db import connection

    if env.database != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return str(cursor.fetchone()[0])


__all__ = ["Kept", "dataset_key", "keep", "kept", "restore", "size"]
