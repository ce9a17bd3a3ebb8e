"""`python -m bench --smoke` runs end to end and prints every row: the benchmarks must not rot.

Tiny sizes; no timing thresholds (the figures of a smoke run mean nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = [
    "POST create → 200, p50",
    "POST create → 200, p99",
    "result message → callback received, p50",
    "result message → callback received, p99",
    "1 accounts: time to all ready",
    "3 accounts: peak RSS",
    "3 accounts: RSS growth per account",
    "marginal RSS per account",
    "GET jobs/?jobid=",
    "requests/s",
    "JobStore.create with capacity check, p50",
    "JobStore.get (random stored job), p50",
    "JobStore.active_counts",
    "deliveries/s, backlog of",
    "wait on a hanging receiver",
]


@pytest.mark.timeout(180)
def test_bench_smoke_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for needle in EXPECTED:
        assert needle in proc.stdout, f"missing row {needle!r}\n{proc.stdout}"
    written = out.read_text()
    assert "## Machine" in written and "Python" in written and "CPU" in written
    rows = [line for line in written.splitlines() if line.startswith("| ") and "---" not in line]
    # header + 4 latency + 3 per account size x 2 sizes + 1 marginal + 3 reads + 6 growth + 2 callbacks
    assert len(rows) == 1 + 4 + 7 + 3 + 6 + 2, rows
    assert "nan" not in written.lower().split("## notes")[0]
