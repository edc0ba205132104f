"""The NDJSON sink's supersede index holds a bounded number of ids, whatever the run writes.

Memory is checked structurally (what the index holds after every write), never by timing or RSS:
with a cap far below the number of distinct ids, the index spills to its SQLite file over and over,
and de-duplication and superseding must still give exactly the output of a sink that never spills,
across spills and across rotated files.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import ROOT

from etl.config import JobConfig
from etl.errors import ConfigError
from etl.pipeline import convert
from etl.stage.ndjson import INDEX_FILE, NdjsonSink, dumps_line, read_ndjson

sys.path.insert(0, str(ROOT / "bench" / "x12"))
from gen_837p import generate  # noqa: E402


def _claim(i: int, version: int = 0) -> dict[str, Any]:
    return {"resourceType": "Claim", "id": f"{i:032x}", "total": {"value": 100 + version}}


def _ids(sink_parts: list[tuple[Path, int]]) -> list[tuple[str, int]]:
    return [(r["id"], r["total"]["value"]) for p, _ in sink_parts for r in read_ndjson(p)]


def test_memory_stays_under_the_cap_while_many_more_ids_are_written(tmp_path: Path) -> None:
    cap = 100
    sink = NdjsonSink(tmp_path, max_bytes=1 << 20, memory_ids=cap)
    most = 0
    for i in range(5_000):
        sink.write(_claim(i))
        sink.write({"resourceType": "Patient", "id": f"{i % 37:032x}"})  # recurring: identical copies
        if i % 3 == 0:
            sink.write(_claim(i // 2, version=1))  # supersedes an earlier claim, long out of memory
        most = max(most, sink.seen.held)
    assert most < cap
    assert sink.seen.spills > 50  # it really went through the disk, again and again
    parts = sink.close()
    assert sum(n for _, n in parts["Claim"]) == 5_000
    assert sum(n for _, n in parts["Patient"]) == 37
    claims = dict(_ids(parts["Claim"]))
    assert len(claims) == 5_000
    assert all(claims[f"{i // 2:032x}"] == 101 for i in range(0, 5_000, 3))
    assert claims[f"{4_999:032x}"] == 100
    assert not (tmp_path / INDEX_FILE).exists()  # scratch: gone once the sink is closed


def test_superseded_and_identical_copies_after_the_id_left_memory_and_its_file(tmp_path: Path) -> None:
    sink = NdjsonSink(tmp_path, max_bytes=1024, memory_ids=16)
    first, last = _claim(7, version=0), _claim(7, version=5)
    assert sink.write(first)
    for i in range(100, 400):  # ~20 parts later, 300 ids later: id 7 is only on disk now
        sink.write(_claim(i))
    assert sink.seen.held < 16 and sink.seen.spills > 10
    assert not sink.write(first)  # an identical copy is still known as one
    assert sink.write(last)  # a new version (an X12 replacement claim) supersedes
    assert not sink.write(last)
    parts = sink.close()
    names = [p.name for p, _ in parts["Claim"]]
    assert len(names) > 10 and names[0] == "Claim.000.ndjson"
    rows = _ids(parts["Claim"])
    assert (f"{7:032x}", 105) == rows[-1] and [r for r in rows if r[0] == f"{7:032x}"] == [rows[-1]]
    assert len(rows) == 301
    # The first file lost the superseded line, and the manifest counts say so.
    assert parts["Claim"][0][1] == len(parts["Claim"][0][0].read_bytes().splitlines())
    assert f"{7:032x}".encode() not in parts["Claim"][0][0].read_bytes()
    assert all(n == len(p.read_bytes().splitlines()) for p, n in parts["Claim"])


def test_keys_on_disk_stay_exact(tmp_path: Path) -> None:
    # 16 characters of text and a fhirflow id whose 128-bit number is the same 16 bytes: one is a
    # TEXT key in SQLite and the other a BLOB, never the same key.
    text = "abcdefghijklmnop"
    number = text.encode().hex()
    sink = NdjsonSink(tmp_path, max_bytes=1 << 20, memory_ids=2)
    sink.write({"resourceType": "Claim", "id": text, "n": 1})
    sink.write({"resourceType": "Claim", "id": number, "n": 2})
    for i in range(10):
        sink.write(_claim(i))
    assert sink.seen.spills > 0
    assert sink.write({"resourceType": "Claim", "id": text, "n": 3})  # supersedes the text id only
    parts = sink.close()
    rows = {r["id"]: r.get("n") for p, _ in parts["Claim"] for r in read_ndjson(p)}
    assert rows[text] == 3 and rows[number] == 2 and len(rows) == 12


def _reference(writes: list[tuple[str, str | None, bytes]], max_bytes: int) -> dict[str, list[list[bytes]]]:
    """What the sink must write, from its contract alone: a line identical to the last one written
    for its id is skipped; files rotate on the lines written; then only the last line of each id
    stays."""
    last: dict[tuple[str, str], bytes] = {}
    files: dict[str, list[list[tuple[str | None, bytes]]]] = {}
    sizes: dict[str, int] = {}
    for rtype, rid, line in writes:
        if rid and last.get((rtype, rid)) == line:
            continue
        if rid:
            last[(rtype, rid)] = line
        parts = files.setdefault(rtype, [])
        if not parts or (sizes[rtype] and sizes[rtype] + len(line) > max_bytes):
            parts.append([])
            sizes[rtype] = 0
        parts[-1].append((rid, line))
        sizes[rtype] += len(line)
    out: dict[str, list[list[bytes]]] = {}
    for rtype, parts in files.items():
        final = {rid: i for i, (rid, _) in enumerate(x for p in parts for x in p) if rid}
        out[rtype], n = [], 0
        for p in parts:
            kept = []
            for rid, line in p:
                if not rid or final[rid] == n:
                    kept.append(line)
                n += 1
            out[rtype].append(kept)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spilling_sink_writes_what_the_contract_says(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    pool = [f"{rng.getrandbits(128):032x}" for _ in range(150)] + ["MRN-1", "mrn-1", "0" * 31 + "G", "ABC" * 11]
    writes = []
    for _ in range(3_000):
        rtype = rng.choice(("Patient", "Claim", "Claim"))
        rid = rng.choice(pool) if rng.random() < 0.97 else None
        line = dumps_line({"resourceType": rtype, "id": rid, "v": rng.randrange(3), "pad": "x" * rng.randrange(80)})
        writes.append((rtype, rid, line))
    expected = _reference(writes, 2048)
    for cap in (1, 5, 64, 1_000_000):
        sink = NdjsonSink(tmp_path / str(cap), max_bytes=2048, memory_ids=cap)
        for rtype, rid, line in writes:
            sink.write_line(rtype, rid, line)
            assert sink.seen.held < cap
        parts = sink.close()
        got = {t: [p.read_bytes().splitlines(keepends=True) for p, _ in ps] for t, ps in parts.items()}
        assert got == expected, cap
        assert {t: [n for _, n in ps] for t, ps in parts.items()} == {t: list(map(len, ps)) for t, ps in expected.items()}


def test_the_cap_is_checked() -> None:
    with pytest.raises(ConfigError, match="ndjson_memory_ids"):
        JobConfig(ndjson_memory_ids=0)


def test_pipeline_output_is_the_same_when_the_index_spills(tmp_path: Path) -> None:
    # A generated 837P (recurring members and providers) converted with a cap of 50 ids and with the
    # default: the same NDJSON, Parquet and manifest, byte for byte.
    src = tmp_path / "in.x12"
    generate(src, 1_500, members=200)
    base = JobConfig(id_salt="spill", transaction_time="2026-01-01T00:00:00+00:00", ndjson_max_bytes=200_000)
    small = JobConfig(id_salt="spill", transaction_time="2026-01-01T00:00:00+00:00", ndjson_max_bytes=200_000,
                      ndjson_memory_ids=50)
    a, b = convert([src], tmp_path / "a", base), convert([src], tmp_path / "b", small)
    assert a.to_dict() == b.to_dict() and a.resources["Claim"] == 1_500
    ta, tb = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sum(1 for f in ta if f.startswith("fhir/Claim.")) > 3
    assert ta.keys() == tb.keys()
    for f in ta:
        assert ta[f] == tb[f], f
    assert not any(INDEX_FILE in f for f in tb)
    assert orjson.loads((tmp_path / "b" / "manifest.json").read_bytes())["output"]


def _tree(out: Path) -> dict[str, bytes]:
    """The published parts (each may be a link into a generation folder) and the manifest."""
    files = {"manifest.json": (out / "manifest.json").read_bytes()}
    for part in ("fhir", "parquet", "errors", "warnings"):
        root = (out / part).resolve()
        if root.exists():
            files |= {f"{part}/{p.relative_to(root)}": p.read_bytes()
                      for p in sorted(root.rglob("*")) if p.is_file()}
    return files
