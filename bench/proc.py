"""Subprocess helpers shared by the benchmark sections."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: ours (the bench's settings) plus `extra`."""
    env = dict(os.environ)
    # Children run as an installed Rampart does, with its bytecode cached: a sandbox's
    # PYTHONDONTWRITEBYTECODE would make every measured process compile Rampart's modules anew.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def warm_bytecode() -> None:
    """Compile Rampart's modules once, so no measured process pays for it (see child_env)."""
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", "-j", "0", "-x", r"/(\.venv|var|node_modules)/", "."],
        cwd=ROOT,
        env=child_env(),
        check=False,
        capture_output=True,
    )


@dataclass(frozen=True)
class Measured:
    """One child process, measured from outside: the whole process, start-up included."""

    wall_s: float
    cpu_s: float  # user + system
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str

    def figures(self) -> dict[str, float]:
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "peak_rss_mb": self.peak_rss_mb}


TIME = Path("/usr/bin/time")  # GNU time (Debian package `time`)


def run_measured(argv: Sequence[str], *, env: Mapping[str, str], timeout: float = 3600) -> Measured:
    """Run `argv` (a whole command line) and measure that one process.

    Peak RSS and CPU time come from GNU time, which runs the command as its own child and
    reports that child's rusage from wait4. Why not wait4 or getrusage here: Linux carries a
    process's peak RSS across exec, and a child forked (or vforked) from this process starts
    with ours, so its ru_maxrss can never read below the bench's own RSS (a `print('hi')`
    child of a 190 MB parent reports 190 MB). RUSAGE_CHILDREN deltas are worse still: its
    ru_maxrss is the largest of every child reaped so far. Forked from GNU time (about 2 MB),
    the measured process's peak is its own. Wall time runs here, from just before the fork to
    the reaping of GNU time, so it includes interpreter start-up and exit; GNU time adds about
    a millisecond. Output goes to files, not pipes, so a chatty child never blocks on a pipe.
    """
    if not TIME.is_file():
        raise RuntimeError(f"{TIME} is missing: install GNU time (Debian package `time`)")
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(mode="r", suffix=".time") as usage,
    ):
        command = [str(TIME), "--format", "%U %S %M", "--output", usage.name, *argv]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=out, stderr=err)
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        wall = time.perf_counter() - started
        # A killed child makes GNU time write "Command terminated by signal N" first.
        user, system, peak_kib = usage.read().split()[-3:]
        out.seek(0)
        err.seek(0)
        return Measured(
            wall_s=round(wall, 3),
            cpu_s=round(float(user) + float(system), 3),
            peak_rss_mb=round(int(peak_kib) / 1024, 1),
            returncode=returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


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
