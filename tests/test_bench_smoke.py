"""`make bench-smoke`: the benchmarks still run end to end and print their table.

Not a timed test: sizes are tiny and the numbers are not judged, only that the table prints.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_smoke_prints_the_table(tmp_path: Path) -> None:
    results = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| section"))
    for column in ("case", "wall s", "CPU s", "peak RSS MB", "value", "target", "ok"):
        assert column in header
    for section in ("collection", "pages", "scale-out"):
        assert any(line.startswith(f"| {section} ") for line in lines), section
    assert results.is_file()
