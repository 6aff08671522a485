"""Empty, migrated databases for the real-path collection runs, one per repetition.

Each repetition's `first` must really be a first collection into an empty database, so every
repetition gets its own: the bench's database, migrated once, is copied (PostgreSQL: CREATE
DATABASE ... TEMPLATE, a file copy on the server; SQLite: a file copy), which takes a fraction
of a second where migrating would take seconds. The copies are dropped at the end.

The open-findings count is read here with one small query, outside the measured process.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.env import BenchEnv, maintenance_url, setup_django


class ScratchDatabases:
    def __init__(self, bench_env: BenchEnv, *, prefix: str = "collect") -> None:
        self.env = bench_env
        self.postgres = bench_env.database == "postgresql"
        self.prefix = prefix
        self.created: list[str] = []
        self.template = bench_env.database_url
        self._counter = 0

    def _url(self, suffix: str) -> str:
        if self.postgres:
            parts = urlsplit(self.env.database_url)
            return urlunsplit(parts._replace(path=f"{parts.path}_{suffix}"))
        return f"sqlite:///{self.env.data_dir / f'{suffix}.sqlite3'}"

    def _name(self, url: str) -> str:
        return urlsplit(url).path.lstrip("/")

    def prepare(self) -> None:
        """Migrate the bench's own database (which later sections use as it is) and make it the
        template. PostgreSQL copies a template only while nobody is connected to it, so the
        connections migrating opened are closed again."""
        from django.db import connections

        setup_django(self.env)
        connections.close_all()

    def fresh(self) -> str:
        """A new database, migrated and empty; its URL."""
        self._counter += 1
        url = self._url(f"{self.prefix}_{self._counter}")
        if self.postgres:
            self._execute(
                f'CREATE DATABASE "{self._name(url)}" TEMPLATE "{self._name(self.template)}"'
            )
        else:
            shutil.copyfile(_sqlite_path(self.template), _sqlite_path(url))
        self.created.append(url)
        return url

    def drop(self, url: str) -> None:
        if self.postgres:
            self._execute(f'DROP DATABASE IF EXISTS "{self._name(url)}" WITH (FORCE)')
        else:
            _sqlite_path(url).unlink(missing_ok=True)
        if url in self.created:
            self.created.remove(url)

    def cleanup(self) -> None:
        for url in list(reversed(self.created)):
            self.drop(url)

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(maintenance_url(self.env.database_url), autocommit=True) as conn:
            # Database names are ours (the configured name + a suffix), never user input.
            conn.execute(sql)  # type: ignore[arg-type]

    def open_findings(self, url: str) -> dict[str, int]:
        """Open findings per cluster name, straight from the tables the models name."""
        sql, params = open_findings_query()
        if self.postgres:
            import psycopg

            with psycopg.connect(_libpq(url)) as conn:
                query = sql.replace("?", "%s")
                rows = conn.execute(query, params).fetchall()  # type: ignore[arg-type]
        else:
            with sqlite3.connect(_sqlite_path(url)) as conn:
                rows = conn.execute(sql, params).fetchall()
        return {str(name): int(count) for name, count in rows}


def open_findings_query() -> tuple[str, tuple[str]]:
    """The SQL counting open findings per cluster. Table and column names come from the models
    (Django is set up for them here, without touching any database), so a rename on main
    cannot silently count the wrong table; a removed model fails loudly instead."""
    _django()
    from clusters.models import Cluster
    from posture.models import Finding

    finding, cluster = Finding._meta, Cluster._meta
    status = finding.get_field("status").column
    cluster_fk = finding.get_field("cluster").column
    name = cluster.get_field("name").column
    tables = f'"{finding.db_table}" f JOIN "{cluster.db_table}" c'
    joined = f'c."{cluster.pk.column}" = f."{cluster_fk}"'
    sql = f'SELECT c."{name}", COUNT(*) FROM {tables} ON {joined} WHERE f."{status}" = ? '  # noqa: S608 (model names)
    sql += f'GROUP BY c."{name}" ORDER BY c."{name}"'
    return sql, (str(Finding.Status.OPEN),)


def _django() -> None:
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)
