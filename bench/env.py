"""Where the benchmark's data lives: never in the configured instance's data.

`prepare()` runs before Django is imported. It makes a temporary RAMPART_DATA_DIR (media,
SQLite, filesystem broker) and chooses the database: with DATABASE_URL set (environment or the
project's .env), a separate `<name>_bench` database on that PostgreSQL server, created here and
dropped by `cleanup()`; otherwise a temporary SQLite file. The configured CELERY_BROKER_URL is
kept (the bench uses its own queue name); without one, the filesystem broker in the temp dir.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet

from bench.proc import ROOT


@dataclass
class BenchEnv:
    data_dir: Path
    database_url: str
    database: str  # "postgresql" | "sqlite"
    broker_url: str
    queue: str
    admin_url: str = ""  # the configured PostgreSQL URL, to drop the bench database


def _dotenv(name: str) -> str:
    if os.environ.get(name):
        return os.environ[name]
    path = Path(os.environ.get("RAMPART_ENV_FILE", ROOT / ".env"))
    if path.is_file():
        for raw in path.read_text().splitlines():
            key, sep, value = raw.strip().partition("=")
            if sep and key.strip() == name and not raw.strip().startswith("#"):
                return value.strip().strip("'\"")
    return ""


def prepare() -> BenchEnv:
    data_dir = Path(tempfile.mkdtemp(prefix="rampart-bench-"))
    configured_db = _dotenv("DATABASE_URL")
    broker = _dotenv("CELERY_BROKER_URL") or "filesystem://"
    env = BenchEnv(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'bench.sqlite3'}",
        database="sqlite",
        broker_url=broker,
        queue=f"rampart-bench-{os.getpid()}",
    )
    if configured_db.startswith(("postgres://", "postgresql://")):
        env.admin_url = configured_db
        env.database_url = _bench_database(configured_db)
        env.database = "postgresql"
    os.environ.update(
        RAMPART_ENV_FILE=os.devnull,  # everything the bench needs is set here explicitly
        RAMPART_DATA_DIR=str(data_dir),
        DATABASE_URL=env.database_url,
        CELERY_BROKER_URL=broker,
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="rampart-bench-" + os.urandom(16).hex(),
        DEBUG="false",
        SECURE_COOKIES="false",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",  # testserver: the test Client
        LOG_LEVEL="WARNING",
        # A configured key, as in production (and no warning from every management command).
        RAMPART_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    return env


def _bench_database(url: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "postgres") + "_bench"
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def maintenance_url(url: str) -> str:
    """The server's `postgres` database: creating and dropping need not touch the configured one,
    which may not even exist yet."""
    parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
    return urlunsplit(parts._replace(path="/postgres"))


def cleanup(env: BenchEnv) -> None:
    if env.admin_url:
        from django.db import connections

        connections.close_all()
        import psycopg

        name = urlsplit(env.database_url).path.lstrip("/")
        with psycopg.connect(maintenance_url(env.admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(env.data_dir, ignore_errors=True)


def setup_django(env: BenchEnv) -> None:
    """Import Django with the bench settings, migrate, and route tasks to the bench queue."""
    import django

    django.setup()
    from django.core.management import call_command

    from config.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_default_queue = env.queue
