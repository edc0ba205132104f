"""Mutated samples end in resources or error records that name the data's fault, never in a crash
or an ``exception`` record (a fhirflow bug).

Since a fault of fhirflow's own on one unit is contained as an ``exception`` error record (see
tests/test_pipeline.py), a crash-only fuzzer would no longer notice one: this one looks for those
records too. The mutations are seeded, so a failure is reproducible; the inputs are the bundled X12,
HL7 v2 and C-CDA samples with bytes flipped, delimiters and segment starts inserted, spans deleted,
duplicated or cut off.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from etl.config import JobConfig
from etl.pipeline import convert

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = sorted(p for fmt in ("x12", "hl7v2", "ccda") for p in (DATA / fmt).rglob("*")
                 if p.is_file() and p.suffix not in (".md", ".json"))
INSERTS = [b"~", b"*", b":", b"^", b"|", b"\r", b"\n", b"~SE*", b"~CLM*", b"~HL*", b"~LX*", b"~ST*", b"~NM1*",
           b"MSH|^~\\&|", b"\rOBX|", b"\rPID|", b"<section>", b"</entry>", b"nullFlavor=\"UNK\" "]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op, pos = rng.random(), rng.randrange(len(b)) if b else 0
        if op < 0.3 and b:
            b[pos] = rng.randrange(256)
        elif op < 0.5:
            b[pos:pos] = rng.choice(INSERTS)
        elif op < 0.7 and b:
            del b[pos:pos + rng.randint(1, 40)]
        elif op < 0.85 and b:
            i, j = sorted((rng.randrange(len(b)), rng.randrange(len(b))))
            b[pos:pos] = b[i:j][:200]
        else:
            del b[pos:]
    return bytes(b)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_samples_never_crash_or_hit_a_fhirflow_bug(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(100):
        src = rng.choice(SAMPLES)
        (inputs / f"{i:02d}-{src.name}").write_bytes(_mutate(rng, src.read_bytes()))
    summary = convert([inputs], tmp_path / "out", JobConfig(parquet=seed == 0))
    assert summary.attempted == summary.succeeded + summary.rejected
    assert summary.succeeded and summary.rejected, "the mutations must leave some units good and break others"
    bugs = [r["issue"][0]["details"]["text"] for p in (tmp_path / "out" / "errors").glob("*.ndjson")
            for r in map(orjson.loads, p.read_bytes().splitlines()) if r["issue"][0]["code"] == "exception"]
    assert not bugs, bugs[:3]
