"""fhirflow benchmarks (``make bench``): X12, C-CDA and HL7 v2, each against its goal and a peer.

    .venv/bin/python bench/run.py [--quick] [--only x12,x12-scale,ccda,hl7v2,views,dicom] [--data DIR] [--json FILE]

What is measured (all in this one run, so ratios compare like with like on a busy machine):

- **x12**: a deterministic 837P (bench/x12/gen_837p.py) of at least ``--claims`` claims and at least
  ``--min-mb`` MB. ``fhirflow convert`` (the real command, default options: NDJSON + Parquet; only
  the re-send ledger is off) converts it in a child process: wall time → claims/s, and the child's
  peak RSS (``wait4`` ru_maxrss). The peer, pyx12's ``X12ContextReader`` merely iterating the 2300
  loops, takes minutes per 100k claims, so it walks a *prefix* of the same file (its first
  ``--pyx12-sets`` transaction sets, byte for byte, with GE/IEA trailers) and the rates (claims/s)
  are compared. fhirflow also converts that prefix, for a same-bytes ratio. When the hot modules are
  compiled (``make native``, mypyc), the whole file is converted once more as pure Python
  (``FHIRFLOW_NO_EXTENSIONS=1``), an information row showing what compiling gains (``--no-pure``
  skips it).
- **x12-scale**: peak RSS at scale: a generated 837P of each of ``--scale-claims`` claims
  (default 600,000: ~520 MB; ``make bench-scale`` adds 2,000,000: ~1.7 GB) through ``fhirflow
  convert`` with the default options, against the goal of < 300 MB at any size. Memory must not grow
  with the claim count (the NDJSON sink's id index spills to disk, :mod:`etl.stage.seen`), so the
  rows of several sizes should show about the same peak. Each output (up to ~8 GB of NDJSON) is
  deleted once its counts are checked.
- **ccda**: C-CDA documents per second on one core (bench/ccda/bench.py: read → to_fhir → JSON in
  one process, warm), and ``fhirflow convert`` end to end over the same folder. Peer: none on this
  machine (Microsoft FHIR-Converter is a .NET service); said so in the table.
- **views**: ``fhirflow views run`` (Claim, claim_item, claim_diagnosis) over the Claim NDJSON of a
  converted generated 837P of ``--views-claims`` claims, output rows/s against DuckDB's
  ``read_json`` + ``unnest`` doing the same flattening of the same NDJSON in the same run; and the
  MERGE of that batch into a current-state Claim table of ``--merge-rows`` rows (bench/views/views_bench.py).
- **hl7v2**: a generated batch (bench/hl7v2/gen_batch.py) through ``fhirflow convert``, messages/s;
  peer: python-hl7's ``hl7.parse`` per message (parse only, no mapping) when ``hl7`` is importable,
  else skipped and said so.
- **dicom**: ``--dicom-files`` generated small CT files (bench/dicom/gen_files.py: 25 instances per
  series, 4 series per study), files/s reading headers and building ImagingStudy (bench/dicom/bench.py:
  the DICOM source as the pipeline drives it, study index in SQLite, NDJSON lines), against pydicom's
  plain ``dcmread(stop_before_pixels=True)`` of the same files in the same run (goal: at least 1x);
  ``fhirflow convert`` over the folder end to end as an information row.

Generated files go under bench/.data/ (git-ignored, never committed). Nothing here asserts a
timing; the exit status is 0 when every benchmark ran, whatever the goals say.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
for sub in ("x12", "hl7v2", "views", "dicom", "load"):  # gen_837p, pyx12_walk; gen_batch; views_bench; gen_files; bench_load
    sys.path.insert(0, str(HERE / sub))

FORMATS = ("x12", "x12-scale", "ccda", "hl7v2", "views", "dicom", "load")
DEFAULT_ONLY = ("x12", "x12-scale", "ccda", "hl7v2", "views", "dicom")  # load (HAPI servers, ~30 min): make bench-load
VIEWS_RATIO_GOAL = 1.0
# Whether `fhirflow convert` runs the mypyc-compiled modules (`make native`) or their .py sources:
# the children inherit this environment, FHIRFLOW_NO_EXTENSIONS included.
import etl  # noqa: E402  (from ROOT, put on the path above)

BUILD = "compiled" if etl.compiled() else "pure Python"
HEADINGS = ("format", "metric", "value", "peer", "peer value", "ratio", "goal", "met")

X12_RATIO_GOAL = 20.0
X12_RSS_GOAL_MB = 300.0
X12_RSS_MIN_INPUT_MB = 200.0
SCALE_CLAIMS = (600_000,)  # make bench; make bench-scale adds 2,000,000
CCDA_GOAL = 50.0
DICOM_RATIO_GOAL = 1.0


@dataclass
class Row:
    format: str
    metric: str
    value: str
    peer: str = "-"
    peer_value: str = "-"
    ratio: str = "-"
    goal: str = "-"
    met: str = "-"

    def cells(self) -> list[str]:
        return [self.format, self.metric, self.value, self.peer, self.peer_value, self.ratio, self.goal, self.met]


@dataclass
class Run:
    seconds: float
    rss_mb: float
    manifest: dict[str, object]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"


def child(cmd: Sequence[str], logfile: Path, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run ``cmd`` from the repo root; wall seconds, the child's own peak RSS (MB) and exit status."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode  # ru_maxrss is KiB on Linux


def convert(inputs: Sequence[Path], out: Path, *extra: str, pure: bool = False) -> Run:
    """``fhirflow convert`` (``python -m etl.cli``: the console script's entry point) in a child;
    ``pure``: with ``FHIRFLOW_NO_EXTENSIONS=1``, the ``.py`` modules instead of the compiled ones."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "etl.cli", "convert", *map(str, inputs), "-o", str(out), *extra]
    seconds, rss, code = child(cmd, out.with_name(out.name + ".log"), {"FHIRFLOW_NO_EXTENSIONS": "1"} if pure else None)
    if code != 0:
        text = out.with_name(out.name + ".log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"fhirflow convert exited {code} ({' '.join(cmd)}):\n{text}")
    manifest = json.loads((out / "manifest.json").read_text())
    return Run(seconds, rss, manifest)


def summary(run: Run) -> dict[str, object]:
    ext = run.manifest["extension"]
    assert isinstance(ext, dict)
    s = ext["https://fhirflow.dev/summary"]
    assert isinstance(s, dict)
    return s


def source_digest(*paths: Path) -> str:
    h = hashlib.sha1()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


# --- X12 ------------------------------------------------------------------------------------------

def bench_x12(args: argparse.Namespace, data: Path) -> list[Row]:
    from gen_837p import PER_ST, generate, prefix

    folder = data / "x12"
    folder.mkdir(parents=True, exist_ok=True)
    min_bytes = int(args.min_mb * 1e6)
    big = folder / f"837p-{args.claims}c-{args.min_mb:g}mb.x12"
    meta = big.with_suffix(".json")
    digest = source_digest(HERE / "x12" / "gen_837p.py")
    info = json.loads(meta.read_text()) if meta.exists() and big.exists() else {}
    if info.get("generator") != digest:
        log(f"x12: generating {big.name} (>= {args.claims} claims, >= {args.min_mb:g} MB)")
        claims = generate(big, args.claims, min_bytes=min_bytes)
        info = {"generator": digest, "claims": claims, "bytes": big.stat().st_size}
        meta.write_text(json.dumps(info))
    claims, size_mb = int(info["claims"]), big.stat().st_size / 1e6
    sets = min(args.pyx12_sets, -(-claims // PER_ST))
    pre = folder / f"{big.stem}-first{sets}sets.x12"
    pre_claims = prefix(big, pre, sets)
    log(f"x12: {big.name}: {claims} claims, {size_mb:.1f} MB; pyx12 prefix: {sets} set(s), {pre_claims} claims")

    log("x12: pyx12 X12ContextReader walking the 2300 loops of the prefix")
    walk_log = folder / "pyx12.log"
    seconds, _, code = child([sys.executable, str(HERE / "x12" / "pyx12_walk.py"), str(pre)], walk_log)
    if code != 0:
        raise SystemExit(f"pyx12 walk failed:\n{walk_log.read_text()[-3000:]}")
    walk = json.loads(walk_log.read_text().strip().splitlines()[-1])
    if walk["claims"] != pre_claims:
        raise SystemExit(f"pyx12 found {walk['claims']} 2300 loops, the prefix has {pre_claims} claims")
    peer_rate = pre_claims / walk["seconds"]
    peer = f"pyx12 4 X12ContextReader 2300 walk, first {pre_claims:,} claims"

    log(f"x12: fhirflow convert on the whole file ({size_mb:.0f} MB); this is the long one")
    full = convert([big], folder / "out-full", "--no-ledger")
    if pre_claims == claims:  # the prefix is the whole file (--quick)
        same = full
    else:
        log("x12: fhirflow convert on the prefix")
        same = convert([pre], folder / "out-prefix", "--no-ledger")
    for run, n in ((same, pre_claims), (full, claims)):
        s = summary(run)
        res = s["resources"]
        assert isinstance(res, dict)
        if s["rejected"] != 0 or res.get("Claim") != n:
            raise SystemExit(f"x12: expected {n} Claims and nothing rejected, got {json.dumps(s)[:500]}")

    rows = []
    if args.pure and BUILD == "compiled":
        log("x12: fhirflow convert on the whole file again, pure Python (FHIRFLOW_NO_EXTENSIONS=1)")
        py = convert([big], folder / "out-pure", "--no-ledger", pure=True)
        if (folder / "out-pure" / "fhir").exists():
            shutil.rmtree(folder / "out-pure")  # ~1 GB of NDJSON, the same as out-full's
        rows.append(Row("x12", f"fhirflow convert, pure Python, claims/s (same file, {py.seconds:.1f} s, "
                        f"peak RSS {py.rss_mb:,.0f} MB)", f"{claims / py.seconds:,.0f}", peer, f"{peer_rate:,.0f}",
                        f"{claims / py.seconds / peer_rate:.1f}x", "(info)", "-"))

    rate, same_rate = claims / full.seconds, pre_claims / same.seconds
    ratio = rate / peer_rate
    rss_goal_applies = size_mb >= X12_RSS_MIN_INPUT_MB
    return [
        Row("x12", f"fhirflow convert ({BUILD}), claims/s ({claims:,} claims, {size_mb:.0f} MB, {full.seconds:.1f} s)",
            f"{rate:,.0f}", peer, f"{peer_rate:,.0f}", f"{ratio:.1f}x", f">= {X12_RATIO_GOAL:g}x",
            yes_no(ratio >= X12_RATIO_GOAL)),
        Row("x12", f"fhirflow convert, claims/s (the same {pre_claims:,}-claim prefix, {same.seconds:.1f} s)",
            f"{same_rate:,.0f}", peer, f"{peer_rate:,.0f}", f"{same_rate / peer_rate:.1f}x", "(info)", "-"),
        Row("x12", f"peak RSS of fhirflow convert, {size_mb:.0f} MB input", f"{full.rss_mb:,.0f} MB",
            goal=f"< {X12_RSS_GOAL_MB:g} MB at >= {X12_RSS_MIN_INPUT_MB:g} MB",
            met=yes_no(full.rss_mb < X12_RSS_GOAL_MB) if rss_goal_applies else "n/a (input too small)"),
        *rows,
    ]


def bench_x12_scale(args: argparse.Namespace, data: Path) -> list[Row]:
    from gen_837p import generate

    folder = data / "x12"
    folder.mkdir(parents=True, exist_ok=True)
    digest = source_digest(HERE / "x12" / "gen_837p.py")
    rows = []
    for n in args.scale_claims:
        src = folder / f"837p-{n}c.x12"
        meta = src.with_suffix(".json")
        info = json.loads(meta.read_text()) if meta.exists() and src.exists() else {}
        if info.get("generator") != digest:
            log(f"x12-scale: generating {src.name} ({n:,} claims)")
            info = {"generator": digest, "claims": generate(src, n), "bytes": 0}
            info["bytes"] = src.stat().st_size
            meta.write_text(json.dumps(info))
        size_mb = src.stat().st_size / 1e6
        log(f"x12-scale: fhirflow convert on {src.name} ({n:,} claims, {size_mb:.0f} MB)")
        out = folder / f"out-{n}c"
        run = convert([src], out, "--no-ledger")
        s = summary(run)
        res = s["resources"]
        assert isinstance(res, dict)
        if s["rejected"] != 0 or res.get("Claim") != n:
            raise SystemExit(f"x12-scale: expected {n} Claims and nothing rejected, got {json.dumps(s)[:500]}")
        shutil.rmtree(out)  # gigabytes of NDJSON and Parquet; the counts were checked
        rows.append(Row("x12", f"peak RSS of fhirflow convert, {n:,} claims ({size_mb:,.0f} MB, {run.seconds:.0f} s, "
                        f"{n / run.seconds:,.0f} claims/s)", f"{run.rss_mb:,.0f} MB",
                        goal=f"< {X12_RSS_GOAL_MB:g} MB at any size", met=yes_no(run.rss_mb < X12_RSS_GOAL_MB)))
    return rows


# --- C-CDA ----------------------------------------------------------------------------------------

def bench_ccda(args: argparse.Namespace, data: Path) -> list[Row]:
    spec = importlib.util.spec_from_file_location("ccda_bench", HERE / "ccda" / "bench.py")
    assert spec is not None and spec.loader is not None
    ccda_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ccda_bench)

    folder = data / "ccda"
    files = ccda_bench.generate(ccda_bench.DEFAULT_SAMPLES, args.ccda_copies, folder / "docs")
    log(f"ccda: {len(files)} documents ({args.ccda_copies} copies of each structured sample); one core")
    ccda_bench.run(files[:5])  # warm-up: imports, lxml, caches
    docs, resources, seconds = ccda_bench.run(files)
    rate = docs / seconds
    log("ccda: fhirflow convert over the same folder")
    e2e = convert([folder / "docs"], folder / "out")
    s = summary(e2e)
    if s["rejected"] != 0 or s["succeeded"] != docs:
        raise SystemExit(f"ccda: expected {docs} documents converted, got {json.dumps(s)[:500]}")
    peer = "none on this machine (MS FHIR-Converter is .NET)"
    return [
        Row("ccda", f"documents/s per core, read+map+JSON ({docs} docs, {resources:,} resources, {seconds:.1f} s)",
            f"{rate:,.1f}", peer, "-", "-", f">= {CCDA_GOAL:g}", yes_no(rate >= CCDA_GOAL)),
        Row("ccda", f"fhirflow convert end to end, documents/s (incl. start-up, NDJSON+Parquet, {e2e.seconds:.1f} s)",
            f"{docs / e2e.seconds:,.1f}", peer, "-", "-", "(info)", "-"),
    ]


# --- HL7 v2 ---------------------------------------------------------------------------------------

def hl7_peer(path: Path) -> tuple[float, int] | None:
    """python-hl7 parsing each message of the batch (no mapping); None when it is not installed."""
    if importlib.util.find_spec("hl7") is None:
        return None
    import hl7  # type: ignore[import-not-found]

    text = path.read_text(encoding="ascii").replace("\r\n", "\r").replace("\n", "\r")
    messages = ["MSH" + m.rstrip("\r") for m in text.split("\rMSH")[1:]]
    messages[-1] = messages[-1].split("\rBTS", 1)[0]  # the batch trailer after the last message
    started = time.perf_counter()
    for m in messages:
        hl7.parse(m)
    return time.perf_counter() - started, len(messages)


def bench_hl7v2(args: argparse.Namespace, data: Path) -> list[Row]:
    from gen_batch import generate

    folder = data / "hl7v2"
    batch = folder / f"batch-{args.hl7_messages}.hl7"
    n = generate(batch, args.hl7_messages)
    log(f"hl7v2: {batch.name}: {n} messages, {batch.stat().st_size / 1e6:.1f} MB; fhirflow convert")
    run = convert([batch], folder / "out")
    s = summary(run)
    if s["rejected"] != 0 or s["succeeded"] != n:
        raise SystemExit(f"hl7v2: expected {n} messages converted, got {json.dumps(s)[:500]}")
    rate = n / run.seconds
    peer = hl7_peer(batch)
    metric = f"fhirflow convert, messages/s ({n:,} msgs, {run.seconds:.1f} s)"
    if peer is None:
        return [Row("hl7v2", metric, f"{rate:,.0f}", "python-hl7: not installed, skipped", "-", "-",
                    "none stated", "-")]
    seconds, parsed = peer
    peer_rate = parsed / seconds
    return [Row("hl7v2", metric, f"{rate:,.0f}", "python-hl7 hl7.parse only", f"{peer_rate:,.0f}",
                f"{rate / peer_rate:.2f}x", "none stated", "-")]


# --- DICOM ----------------------------------------------------------------------------------------

def bench_dicom(args: argparse.Namespace, data: Path) -> list[Row]:
    from gen_files import generate

    spec = importlib.util.spec_from_file_location("dicom_bench", HERE / "dicom" / "bench.py")
    assert spec is not None and spec.loader is not None
    dicom_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dicom_bench)
    per_study = 100
    studies = max(1, args.dicom_files // per_study)
    folder = data / "dicom" / f"files-{studies * per_study}"
    files = generate(folder, studies, 4, per_study // 4)
    log(f"dicom: {len(files):,} files ({studies} studies of 4 series x 25 instances); one core, warm")
    dicom_bench.run_pydicom(files[:200])  # warm-up: imports, page cache
    dicom_bench.run_fhirflow(files[:200])
    peer_s = dicom_bench.run_pydicom(files)
    n, st, res, ours_s = dicom_bench.run_fhirflow(files)
    if n != len(files) or st != studies:
        raise SystemExit(f"dicom: expected {len(files)} instances in {studies} studies, got {n} in {st}")
    rate, peer_rate = n / ours_s, len(files) / peer_s
    log("dicom: fhirflow convert over the same folder")
    e2e = convert([folder], data / "dicom" / "out", "--no-state")
    s = summary(e2e)
    if s["rejected"] != 0 or s["succeeded"] != n:
        raise SystemExit(f"dicom: expected {n} instances converted, got {json.dumps(s)[:500]}")
    return [
        Row("dicom", f"files/s reading headers + building ImagingStudy ({n:,} files, {st} studies, {res:,} resources, "
                     f"{ours_s:.1f} s)", f"{rate:,.0f}", "pydicom dcmread(stop_before_pixels=True) only",
            f"{peer_rate:,.0f}", f"{rate / peer_rate:.2f}x", f">= {DICOM_RATIO_GOAL:g}x", yes_no(rate >= peer_rate * DICOM_RATIO_GOAL)),
        Row("dicom", f"fhirflow convert end to end, files/s (incl. start-up, NDJSON+Parquet, {e2e.seconds:.1f} s)",
            f"{n / e2e.seconds:,.0f}", "-", "-", "-", "(info)", "-"),
    ]


# --- the table ------------------------------------------------------------------------------------

def bench_views(args: argparse.Namespace, data: Path) -> list[Row]:
    import views_bench  # bench/views/views_bench.py
    from gen_837p import generate

    log(f"views: {args.views_claims} claims: convert, then views run vs DuckDB, then MERGE into {args.merge_rows:,} rows")
    r = views_bench.bench(data, args.views_claims, args.merge_rows, generate)
    ratio = r["fhirflow_rate"] / r["duckdb_rate"]
    tables = ", ".join(f"{k} {v:,}" for k, v in r["rows"].items())
    m = r["merge"]
    return [
        Row("views", f"fhirflow views run ({BUILD}), rows/s ({r['claims']:,} claims, {r['ndjson_mb']:.0f} MB NDJSON "
            f"-> {tables}; {r['fhirflow_s']:.1f} s)", f"{r['fhirflow_rate']:,.0f}",
            f"DuckDB read_json + unnest, same tables ({r['duckdb_s']:.1f} s, all cores)", f"{r['duckdb_rate']:,.0f}",
            f"{ratio:.2f}x", f">= {VIEWS_RATIO_GOAL:g}x", yes_no(ratio >= VIEWS_RATIO_GOAL)),
        Row("views", f"fhirflow views run, rows per CPU-second (user+sys {r['fhirflow_cpu']:.1f} s)",
            f"{r['total_rows'] / r['fhirflow_cpu']:,.0f}", f"DuckDB, same (user+sys {r['duckdb_cpu']:.1f} s)",
            f"{r['total_rows'] / r['duckdb_cpu']:,.0f}",
            f"{(r['total_rows'] / r['fhirflow_cpu']) / (r['total_rows'] / r['duckdb_cpu']):.2f}x", "(info)", "-"),
        Row("views", f"MERGE of one batch ({m['batch']:,} claims) into a Claim current-state table of "
            f"{m['rows'] - m['batch']:,} rows: new claims (inserts), s", f"{m['insert']:.1f}"),
        Row("views", "MERGE of the same batch again as later versions (updates), s", f"{m['update']:.1f}"),
    ]


LOAD_GOAL_RATIO = 3.0
LOAD_GOAL_RATE = 1_000.0


def bench_load_rows(args: argparse.Namespace, data: Path) -> list[Row]:
    """bench/load/bench_load.py: $import and transaction Bundles into fresh HAPI servers."""
    from bench_load import bench_load

    results = bench_load(args.load_claims, args.load_sweep_claims,
                         [int(c) for c in args.load_concurrency.split(",")],
                         [d.strip() for d in args.load_db.split(",") if d.strip()], args.load_port, data,
                         args.load_baseline, args.load_chunk)
    if args.json:
        args.json.with_suffix(".load.json").write_text(json.dumps(results, indent=2))
    rows: list[Row] = []
    best = {r["db"]: r for r in results if r.get("best")}
    for r in results:
        metric = f"{r['label']}, {r['db']}: resources/s ({r['resources']:,} in {r['wall_s']:.0f} s)"
        value = f"{r['rate']:,.0f}"
        if r["dialect"] == "hapi" and r["db"] in best and "before" not in r["label"]:
            peer = best[r["db"]]
            ratio = r["rate"] / peer["rate"]
            rows.append(Row("load", metric, value, f"transaction, {peer['concurrency']} at a time",
                            f"{peer['rate']:,.0f}", f"{ratio:.1f}x", "≥3x and ≥1,000/s",
                            yes_no(ratio >= LOAD_GOAL_RATIO and r["rate"] >= LOAD_GOAL_RATE)))
        else:
            rows.append(Row("load", metric, value))
        rows.append(Row("load", f"  … per server CPU-second (load {r['load_s']} s, verify {r['verify_s']} s, "
                                f"{r['requests']} requests)", f"{r['rate_cpu']:,.0f}"))
    return rows


def table(rows: list[Row]) -> str:
    cells = [list(HEADINGS)] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADINGS))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    return (f"{platform.node()}: {os.cpu_count()} CPU(s), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run (numbers mean little)")
    ap.add_argument("--only", default=",".join(DEFAULT_ONLY), help="comma-separated subset of: " + ", ".join(FORMATS))
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / ".data", help="where generated files go")
    ap.add_argument("--json", type=Path, help="also write the rows here as JSON")
    ap.add_argument("--claims", type=int, help="X12: at least this many claims (default 100000; quick 300)")
    ap.add_argument("--min-mb", type=float, help="X12: and at least this many MB (default 200; quick 0)")
    ap.add_argument("--pyx12-sets", type=int, help="X12: transaction sets (5,000 claims each) pyx12 walks (default 2)")
    ap.add_argument("--scale-claims", type=lambda v: [int(x) for x in v.split(",")],
                    help="X12 scale: comma-separated claim counts whose peak RSS is measured "
                         "(default 600000; make bench-scale: 600000,2000000; quick 2000)")
    ap.add_argument("--ccda-copies", type=int, help="C-CDA: copies of each sample document (default 40; quick 1)")
    ap.add_argument("--no-pure", dest="pure", action="store_false",
                    help="X12: skip the extra pure-Python run of the whole file (FHIRFLOW_NO_EXTENSIONS=1)")
    ap.add_argument("--hl7-messages", type=int, help="HL7 v2: messages in the batch (default 20000; quick 300)")
    ap.add_argument("--views-claims", type=int, help="views: claims of the 837P flattened (default 50000; quick 200)")
    ap.add_argument("--merge-rows", type=int, help="views: rows of the current-state table merged into "
                                                    "(default 1000000; quick 2000)")
    ap.add_argument("--dicom-files", type=int, help="DICOM: generated files (default 20000; quick 200)")
    ap.add_argument("--load-claims", type=int, help="load: claims of the batch (default 32000: ~57,000 resources; quick 500)")
    ap.add_argument("--load-sweep-claims", type=int, help="load: claims of each concurrency trial (default 2000; quick 100)")
    ap.add_argument("--load-concurrency", default="1,2,4", help="load: transaction concurrencies to try (default 1,2,4)")
    ap.add_argument("--load-db", default="h2,postgresql", help="load: databases (default h2,postgresql)")
    ap.add_argument("--load-port", type=int, default=int(os.environ.get("FHIRFLOW_BENCH_HAPI_PORT", "8090")),
                    help="load: HAPI servers take the ports after this one (default 8090, env FHIRFLOW_BENCH_HAPI_PORT); "
                         "their PostgreSQL clusters port + 37200")
    ap.add_argument("--load-chunk", type=int, default=500, help="load: $import work-chunk size (default 500)")
    ap.add_argument("--load-baseline", action="store_true",
                    help="load: also $import on H2 as before issue 16 (fast JVM, HAPI storage defaults)")
    args = ap.parse_args(argv)
    quick = args.quick
    for name, full, small in (("claims", 100_000, 300), ("min_mb", 200.0, 0.0), ("pyx12_sets", 2, 1),
                              ("scale_claims", list(SCALE_CLAIMS), [2_000]),
                              ("ccda_copies", 40, 1), ("hl7_messages", 20_000, 300),
                              ("views_claims", 50_000, 200), ("merge_rows", 1_000_000, 2_000),
                              ("dicom_files", 20_000, 200),
                              ("load_claims", 32_000, 500), ("load_sweep_claims", 2_000, 100)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(only) - set(FORMATS))
    if unknown:
        ap.error(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)

    benches: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {
        "x12": bench_x12, "x12-scale": bench_x12_scale, "ccda": bench_ccda, "hl7v2": bench_hl7v2,
        "views": bench_views, "dicom": bench_dicom, "load": bench_load_rows}
    rows: list[Row] = []
    started = time.perf_counter()
    for fmt in FORMATS:
        if fmt in only:
            t = time.perf_counter()
            rows += benches[fmt](args, data)
            log(f"{fmt}: done in {time.perf_counter() - t:.0f} s")
    print()
    print(f"fhirflow benchmarks{' (--quick: tiny sizes, numbers mean little)' if quick else ''} — "
          f"{time.strftime('%Y-%m-%d')}, {machine()}; fhirflow {BUILD}; {time.perf_counter() - started:.0f} s in all")
    print()
    print(table(rows))
    print()
    print("ratio = fhirflow value / peer value, measured in this run. X12 peer rate is from a prefix of the same "
          "file (see the metric); peak RSS is the convert child's own ru_maxrss.")
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine(), "quick": quick,
                                         "rows": [asdict(r) for r in rows]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
