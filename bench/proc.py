"""Subprocess helpers shared by the benchmark sections."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: ours (the bench's settings) plus `extra`."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_json(args: Sequence[str], *, timeout: float = 900) -> dict[str, Any]:
    """Run `python -m ...args` and parse the last line of its stdout as JSON."""
    done = subprocess.run(
        [PYTHON, "-m", *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:2])} exited {done.returncode}: {done.stderr.decode()[-2000:]}"
        )
    return dict(orjson.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def background(args: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, terminated (then killed) on exit."""
    process = subprocess.Popen([PYTHON, "-m", *args], cwd=ROOT, **popen)
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Iterable[float]) -> float | None:
    data = [v for v in values if v is not None]
    return statistics.median(data) if data else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None
