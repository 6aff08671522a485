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
    for section in ("collection (real path)", "collection (breakdown)", "pages", "storage"):
        assert any(line.startswith(f"| {section} ") for line in lines), section
    assert any(line.startswith("| scale-out ") for line in lines)
    # The real path ran end to end: registered over TLS, collected three times as whole
    # processes, findings counted from the database after each.
    real = {
        cells[1]: cells
        for line in lines
        if line.startswith("| collection (real path)")
        for cells in [[cell.strip() for cell in line.split("|")[1:-1]]]
    }
    assert any(case.startswith("300 pods (findings shape), TLS, ") for case in real)
    for mode in ("floor", "start-up", "first", "unchanged", "changed-1%"):
        row = next(cells for case, cells in real.items() if case.startswith(f"300 pods: {mode}:"))
        assert float(row[2]) > 0 and float(row[4].replace(",", "")) > 0, row
        if mode not in ("floor", "start-up"):
            assert "x floor; " in row[5] and "open findings" in row[5], row
            # Findings-heavy: several open findings a pod (about ten with today's checks).
            assert int(row[5].split("; ")[1].split()[0].replace(",", "")) >= 5 * 300, row
    # The generated history is the real write path's: bench.history checks it against
    # result_set_store, findings and history_prune, and would have failed the run otherwise.
    assert any("generator leaves the same rows" in line for line in lines)
    cases = {tuple(cell.strip() for cell in line.split("|")[1:3]) for line in lines}
    for page in ("fleet", "cluster", "cluster trends 1y", "fleet trends 1y", "checklist"):
        assert ("pages", f"{page} page: queries") in cases, page
    assert results.is_file()
