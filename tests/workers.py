"""Start a real Celery worker process against the test database, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def test_database_url() -> str:
    """The URL of the database the tests are using (the test_ database, not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def celery_worker(
    *, extra_env: dict[str, str] | None = None, concurrency: int = 1, name: str = "test"
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker in its own process group, so `kill_worker` can kill it whole, children too."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "RAMPART_DATA_DIR": str(settings.DATA_DIR),
        "RAMPART_ENV_FILE": os.devnull,
        **(extra_env or {}),
    }
    log = worker_log(name).open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{name}-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def worker_log(name: str = "test") -> Path:
    return Path(settings.DATA_DIR) / f"{name}-worker.log"


def kill_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole worker (main process and pool children): no goodbye, no acks."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float = 120,
    message: str = "condition",
    log: str = "test",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    path = worker_log(log)
    tail = path.read_text(errors="replace")[-4000:] if path.exists() else ""
    raise AssertionError(f"timed out waiting for {message}\n--- worker log ---\n{tail}")
