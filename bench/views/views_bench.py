"""Views benchmark (``bench/run.py --only views``): ``fhirflow views run`` against DuckDB, and the
MERGE of one batch into a large current-state table.

1. A generated 837P (bench/x12/gen_837p.py) is converted to NDJSON (``--no-parquet``), and its
   Claim NDJSON is flattened three ways at once: the per-type ``Claim`` view, ``claim_item`` (one row
   per line) and ``claim_diagnosis`` (one per diagnosis), to Parquet.
   - fhirflow: ``fhirflow views run schemas/views/{Claim,claim_item,claim_diagnosis}.json`` in a child.
   - peer: DuckDB in a child, ``read_json`` + ``unnest`` of the same NDJSON into the same three tables
     (the same columns where DuckDB's inferred schema has them), ``COPY ... TO`` Parquet, DuckDB's
     default threads (all cores; fhirflow uses one).
   Rate: output rows (all three tables) per second of wall time, and per CPU-second (the child's
   user + sys: what a busy shared machine distorts least); both must give the same row counts.
2. MERGE: a ``Claim`` current-state table of ``--merge-rows`` rows (the batch's rows repeated under
   new ids; its ``resource`` column cut to a stub so that building 1M rows takes seconds, not GBs) is
   created, then the batch's Claim table merged into it twice: as new claims (inserts), and again as
   later versions of the same claims (updates). Seconds per merge.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

DUCKDB_SQL = """
SET preserve_insertion_order = false;
CREATE TEMP TABLE c AS SELECT * FROM read_json('{src}/*.ndjson', format = 'newline_delimited',
                                                maximum_object_size = 67108864, sample_size = -1);
COPY (SELECT id, identifier[1].value AS claim_identifier, status, type.coding[1].code AS type_code,
             split_part(patient.reference, '/', 2) AS patient_id, split_part(insurer.reference, '/', 2) AS insurer_id,
             split_part(provider.reference, '/', 2) AS provider_id, created, billablePeriod."start" AS billable_start,
             billablePeriod."end" AS billable_end, diagnosis[1].diagnosisCodeableConcept.coding[1].code AS principal_diagnosis,
             len(item) AS item_count, total.value AS total_value
      FROM c) TO '{out}/Claim.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT c.id AS claim_id, list_filter(c.identifier, lambda x: x.system = 'https://fhirflow.dev/x12/patient-control-number')[1].value
             AS patient_control_number, c.status AS claim_status, c.type.coding[1].code AS claim_type,
             split_part(c.patient.reference, '/', 2) AS patient_id, split_part(c.insurer.reference, '/', 2) AS insurer_id,
             split_part(c.provider.reference, '/', 2) AS provider_id, c.created, u.i.sequence,
             u.i.servicedDate AS serviced, u.i.productOrService.coding[1].system AS product_system,
             u.i.productOrService.coding[1].code AS product_code, u.i.locationCodeableConcept.coding[1].code AS place_of_service,
             u.i.diagnosisSequence AS diagnosis_sequence, u.i.quantity.value AS quantity, u.i.net.value AS net,
             u.i.net.currency AS currency
      FROM c, unnest(c.item) AS u(i)) TO '{out}/claim_item.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT c.id AS claim_id, list_filter(c.identifier, lambda x: x.system = 'https://fhirflow.dev/x12/patient-control-number')[1].value
             AS patient_control_number, split_part(c.patient.reference, '/', 2) AS patient_id, c.created,
             u.d.sequence, u.d.diagnosisCodeableConcept.coding[1].code AS code,
             u.d.diagnosisCodeableConcept.coding[1].system AS system, u.d.type[1].coding[1].code AS diagnosis_type
      FROM c, unnest(c.diagnosis) AS u(d)) TO '{out}/claim_diagnosis.parquet' (FORMAT parquet, COMPRESSION zstd);
"""

DUCKDB_CHILD = """
import sys, time, duckdb
sql = open(sys.argv[1]).read()
t = time.perf_counter()
con = duckdb.connect()
for stmt in [s for s in sql.split(";") if s.strip()]:
    con.execute(stmt)
print(time.perf_counter() - t)
"""

MERGE_CHILD = """
import json, sys, time
from datetime import datetime, timedelta, timezone
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from deltalake import write_deltalake
from etl.stage.lake import merge_table
lake, batch_file, total = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
batch = pq.read_table(batch_file).replace_schema_metadata(None)
stub = pa.array(['{"resourceType":"Claim"}'] * batch.num_rows)
batch = batch.set_column(batch.schema.get_field_index("resource"), "resource", stub)
t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
def stamped(t, when, tag):
    t = t.append_column("_as_of", pa.array([when] * t.num_rows, type=pa.timestamp("us", tz="UTC")))
    return t.append_column("_hash", pa.array([tag] * t.num_rows))
started = time.perf_counter()
made = 0
while made < total:  # the big table: the batch's rows again and again, under new ids
    n = min(batch.num_rows, total - made)
    chunk = batch.slice(0, n)
    ids = pc.binary_join_element_wise(pc.cast(pa.array(range(made, made + n)), pa.string()), pa.scalar("-big"), "")
    chunk = chunk.set_column(0, "id", ids)
    write_deltalake(str(lake), stamped(chunk, t0, "old"), mode="append")
    made += n
setup = time.perf_counter() - started
t = time.perf_counter()
merge_table(lake, stamped(batch, t0 + timedelta(days=1), "v1"), ["id"], "id", replace_rows=False)
insert = time.perf_counter() - t
t = time.perf_counter()
merge_table(lake, stamped(batch, t0 + timedelta(days=2), "v2"), ["id"], "id", replace_rows=False)
update = time.perf_counter() - t
from deltalake import DeltaTable
rows = sum(pq.read_metadata(f).num_rows for f in DeltaTable(str(lake)).file_uris())
print(json.dumps({"setup": setup, "insert": insert, "update": update, "rows": rows, "batch": batch.num_rows}))
"""


def run_child(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; (wall seconds, the child's CPU seconds user + sys, its stdout)."""
    with open(log, "w+b") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {code}:\n{text[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, text


def parquet_rows(folder: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {p.stem: pq.read_metadata(p).num_rows for p in sorted(folder.glob("*.parquet"))}


def bench(data: Path, claims: int, merge_rows: int, generate: Any) -> dict[str, Any]:
    """Everything measured; ``generate`` is gen_837p.generate."""
    folder = data / "views"
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"837p-{claims}c.x12"
    if not src.exists():
        generate(src, claims)
    conv = folder / "converted"
    if conv.exists():
        shutil.rmtree(conv)
    run_child([sys.executable, "-m", "etl.cli", "convert", str(src), "-o", str(conv), "--no-ledger", "--no-parquet",
               "-q"], folder / "convert.log")
    nd = folder / "claims-ndjson"
    if nd.exists():
        shutil.rmtree(nd)
    nd.mkdir()
    for p in sorted((conv / "fhir").glob("Claim.*.ndjson")):
        os.symlink(p.resolve(), nd / p.name)
    n_claims = sum(p.read_bytes().count(b"\n") for p in nd.iterdir())
    mb = sum(p.stat().st_size for p in nd.iterdir()) / 1e6

    views = [ROOT / "schemas" / "views" / f for f in ("Claim.json", "claim_item.json", "claim_diagnosis.json")]
    ff_out = folder / "out-fhirflow"
    shutil.rmtree(ff_out, ignore_errors=True)
    ff_s, ff_cpu, _ = run_child([sys.executable, "-m", "etl.cli", "views", "run", *map(str, views), "--input", str(nd),
                         "--output", str(ff_out)], folder / "views-run.log")
    ff_rows = parquet_rows(ff_out)

    dd_out = folder / "out-duckdb"
    shutil.rmtree(dd_out, ignore_errors=True)
    dd_out.mkdir()
    sql = folder / "flatten.sql"
    sql.write_text(DUCKDB_SQL.format(src=nd, out=dd_out))
    dd_s, dd_cpu, _ = run_child([sys.executable, "-c", DUCKDB_CHILD, str(sql)], folder / "duckdb.log")
    dd_rows = parquet_rows(dd_out)
    ff_rows = {("Claim" if k == "claim" else k): v for k, v in ff_rows.items()}
    if ff_rows != dd_rows:
        raise SystemExit(f"views: fhirflow wrote {ff_rows} rows, DuckDB {dd_rows}: not the same flattening")

    lake = folder / "lake-Claim"
    shutil.rmtree(lake, ignore_errors=True)
    batch_pq = folder / "batch-claim.parquet"
    from etl.stage.parquet import ndjson_to_parquet
    from etl.stage.views import load_views

    first = sorted(nd.iterdir())[0]
    ndjson_to_parquet(first, batch_pq, load_views()["Claim"], 10_000)
    _, _, out = run_child([sys.executable, "-c", MERGE_CHILD, str(ROOT), str(lake), str(batch_pq), str(merge_rows)],
                       folder / "merge.log")
    merge = json.loads(out.strip().splitlines()[-1])
    shutil.rmtree(lake, ignore_errors=True)
    total = sum(ff_rows.values())
    return {"claims": n_claims, "ndjson_mb": mb, "rows": ff_rows, "total_rows": total,
            "fhirflow_s": ff_s, "duckdb_s": dd_s, "fhirflow_rate": total / ff_s, "duckdb_rate": total / dd_s,
            "fhirflow_cpu": ff_cpu, "duckdb_cpu": dd_cpu,
            "merge": merge}
