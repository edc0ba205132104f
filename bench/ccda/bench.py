"""C-CDA conversion speed: documents per second per core (goal: 50).

Generates N copies of the sample documents with varied document and entry ids under
bench/.data/ccda/ (never committed), then converts them in one process (one core) through the
Source exactly as the pipeline does (read → to_fhir → orjson), without writing output.

    .venv/bin/python bench/ccda/bench.py [--copies N] [--samples DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from etl.config import JobConfig  # noqa: E402
from etl.fhir.context import MappingContext  # noqa: E402
from etl.sources.ccda.source import CcdaSource  # noqa: E402

GOAL = 50.0
DEFAULT_SAMPLES = ROOT / "tests" / "data" / "ccda" / "fhir-converter" / "input"
OUT = ROOT / "bench" / ".data" / "ccda" / "docs"
_EXT = re.compile(rb'extension="([^"]*)"')
_UUID_ROOT = re.compile(rb'root="([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-)([0-9a-fA-F]{12})"')


def generate(samples: Path, copies: int, out: Path = OUT) -> list[Path]:
    """``copies`` variants of each structured sample CCD-like document, ids varied per copy, written
    to ``out`` (emptied first: the folder then holds exactly these documents)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sources = [p for p in sorted(samples.glob("*.ccda")) if b"<structuredBody" in p.read_bytes()]
    files = []
    for i in range(copies):
        for src in sources:
            data = src.read_bytes()
            suffix, tail = b"-" + str(i).encode(), f"{i:012x}".encode()
            data = _EXT.sub(lambda m, s=suffix: b'extension="' + m.group(1) + s + b'"', data)  # type: ignore[misc]
            data = _UUID_ROOT.sub(lambda m, t=tail: b'root="' + m.group(1) + t + b'"', data)  # type: ignore[misc]
            dst = out / f"{src.stem}-{i:04d}.xml"
            dst.write_bytes(data)
            files.append(dst)
    return files


def run(files: list[Path]) -> tuple[int, int, float]:
    src, cfg = CcdaSource(), JobConfig()
    ctx = MappingContext(cfg.id_salt)
    docs = resources = 0
    started = time.perf_counter()
    for path in files:
        for unit in src.read(path, cfg):
            if unit.record is None:
                continue
            out = src.to_fhir(unit.record, ctx, cfg)
            for r in out:
                orjson.dumps(r)
            docs += 1
            resources += len(out)
    return docs, resources, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = ap.parse_args()
    files = generate(args.samples, args.copies)
    run(files[:5])  # warm-up: imports, lxml, caches
    docs, resources, seconds = run(files)
    rate = docs / seconds
    print(f"{docs} documents, {resources} resources in {seconds:.2f} s on one core")
    print(f"C-CDA documents per second per core: {rate:.1f} (goal {GOAL:.0f}; ratio {rate / GOAL:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
