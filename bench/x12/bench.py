"""X12 benchmark: fhirflow claims/s vs pyx12 X12ContextReader iterating 2300 loops, and peak RSS.

Usage: python bench/x12/bench.py [--claims N] [--quick]
Files go to bench/.data/ (not committed). Prints claims/s, the ratio (goal >= 20x) and the peak
RSS converting a file of >= 200 MB (goal < 300 MB), measured in a child process.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "bench" / ".data"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from gen_837p import generate  # noqa: E402


def ours(path: Path, out: Path) -> float:
    from etl.config import JobConfig
    from etl.pipeline import convert

    t = time.perf_counter()
    summary = convert([path], out, JobConfig(parquet=False))
    dt = time.perf_counter() - t
    assert summary.rejected == 0, summary.to_dict()
    return dt


def pyx12_walk(path: Path) -> tuple[float, int]:
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    t = time.perf_counter()
    param = pyx12.params.params()
    errh = pyx12.error_handler.errh_null()
    src = pyx12.x12context.X12ContextReader(param, errh, str(path))
    n = sum(1 for node in src.iter_segments("2300") if node.id == "2300")
    return time.perf_counter() - t, n


def rss_child(path: Path, out: Path) -> float:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
            "from etl.pipeline import convert; from etl.config import JobConfig; "
            f"convert([Path({str(path)!r})], Path({str(out)!r}), JobConfig(parquet=False))")
    subprocess.run([sys.executable, "-c", code], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = ap.parse_args()
    speed_claims = 5_000 if args.quick else min(args.claims, 20_000)
    pyx12_claims = 500 if args.quick else 2_000
    big_claims = 20_000 if args.quick else max(args.claims, 230_000)  # ~1 KB/claim: >= 200 MB
    small = DATA / f"837p-{pyx12_claims}.x12"
    mid = DATA / f"837p-{speed_claims}.x12"
    big = DATA / f"837p-{big_claims}.x12"
    for p, n in ((small, pyx12_claims), (mid, speed_claims), (big, big_claims)):
        if not p.exists():
            generate(p, n)
    dt = ours(mid, DATA / "out-mid")
    our_rate = speed_claims / dt
    pdt, n = pyx12_walk(small)
    assert n == pyx12_claims, n
    py_rate = n / pdt
    print(f"fhirflow: {our_rate:,.0f} claims/s ({speed_claims} claims in {dt:.1f} s)")
    print(f"pyx12 X12ContextReader 2300 walk: {py_rate:,.0f} claims/s ({n} claims in {pdt:.1f} s)")
    print(f"ratio: {our_rate / py_rate:.1f}x (goal >= 20x)")
    rss = rss_child(big, DATA / "out-big")
    print(f"peak RSS converting {big.stat().st_size / 1e6:.0f} MB ({big_claims} claims): {rss:.0f} MB (goal < 300 MB)")


if __name__ == "__main__":
    main()
