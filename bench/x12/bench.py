"""X12 benchmark alone: the X12 part of bench/run.py (fhirflow convert claims/s vs pyx12's
X12ContextReader walking the 2300 loops of a prefix of the same file, and peak RSS).

Usage: python bench/x12/bench.py [--quick] [--claims N] [--min-mb M] [--pyx12-sets K]
(the options of bench/run.py; see its docstring for the method). Files go to bench/.data/.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import main  # noqa: E402  (bench/run.py)

if __name__ == "__main__":
    raise SystemExit(main(["--only", "x12", *sys.argv[1:]]))
