"""Smoke test of the benchmark harness: ``bench/run.py --quick`` runs and prints its table.

Never asserts a timing or a goal (numbers depend on the machine and its load); only that every
benchmark runs to the end on tiny inputs and the table has its headings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick_runs_and_prints_the_table(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--data", str(tmp_path),
         "--claims", "120", "--hl7-messages", "50", "--json", str(tmp_path / "rows.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| format"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "format", "metric", "value", "peer", "peer value", "ratio", "goal", "met"]
    for fmt in ("x12", "ccda", "hl7v2", "views"):
        assert f"| {fmt}" in proc.stdout
    assert "peak RSS of fhirflow convert, 2,000 claims" in proc.stdout  # x12-scale, tiny in --quick
    assert (tmp_path / "rows.json").exists()
