"""Against the real HAPI FHIR JPA server: the transaction and batch dialects (Bundles of PUTs), a
refused entry as an error record while the rest loads, a re-load that changes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from etl.cli import main
from etl.config import ImportConfig, JobConfig
from etl.load.importer import LOAD_ERRORS, import_folder
from etl.pipeline import convert
from etl.stage.output import current_generation
from etl.state import StateStore

pytestmark = pytest.mark.hapi

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
INPUTS = [HL7 / "fhir-converter" / "ADT-A01-01.hl7", HL7 / "fhir-converter" / "ORU-R01-01.hl7",
          HL7 / "python-hl7" / "sample_batch1.hl7"]


def _cfg(hapi_url: str, dialect: str, salt: str, **kw: object) -> JobConfig:
    load = ImportConfig(fhir_url=hapi_url, dialect=dialect, bundle_size=3, concurrency=2, backoff_base_s=0.1,
                        **kw)  # type: ignore[arg-type]
    return JobConfig(id_salt=salt, load=load)


def _lines(folder: Path, rtype: str) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in (folder / "fhir" / f"{rtype}.000.ndjson").read_bytes().splitlines()]


def _versions(base: str, folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted((folder / "fhir").glob("*.ndjson")):
        for r in [orjson.loads(x) for x in path.read_bytes().splitlines()]:
            ref = f"{r['resourceType']}/{r['id']}"
            out[ref] = httpx.get(f"{base}/{ref}", timeout=30).json()["meta"]["versionId"]
    return out


def _spoil(folder: Path, rtype: str, n: int, change: dict[str, object]) -> dict[str, object]:
    """Rewrite line ``n`` (0-based) of the type's NDJSON in the published generation."""
    path = current_generation(folder) / "fhir" / f"{rtype}.000.ndjson"
    lines = path.read_bytes().splitlines()
    bad = {**orjson.loads(lines[n]), **change}
    lines[n] = orjson.dumps(bad)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return bad


@pytest.mark.parametrize("dialect", ["transaction", "batch"])
def test_bundles_load_everything_and_a_reload_changes_nothing(tmp_path: Path, hapi_url: str, dialect: str) -> None:
    cfg = _cfg(hapi_url, dialect, f"bundles-{dialect}")
    summary = convert(INPUTS, tmp_path, cfg)
    report = import_folder(tmp_path, cfg)
    assert report.found == report.sent == dict(summary.resources) and not report.rejected
    assert report.requests >= sum(report.sent.values()) / 3  # Bundles of 3 entries
    before = _versions(hapi_url, tmp_path)
    again = import_folder(tmp_path, cfg)
    assert again.found == again.sent
    assert _versions(hapi_url, tmp_path) == before  # PUT of the same content: no new version
    obs = _lines(tmp_path, "Observation")[0]
    assert httpx.get(f"{hapi_url}/{obs['subject']['reference']}", timeout=30).status_code == 200  # type: ignore[index]


@pytest.mark.parametrize("dialect", ["transaction", "batch"])
def test_a_refused_entry_is_an_error_record_and_the_rest_loads(tmp_path: Path, hapi_url: str, dialect: str) -> None:
    """One Patient points its managingOrganization at a Patient (HAPI: 422, wrong target type) and
    one has a birthDate HAPI cannot parse (400 for the whole Bundle it is in): each becomes an error
    record naming it, everything else is on the server. In a transaction the refused Bundle is
    bisected down to the bad entry; in a batch HAPI answers per entry (and the unparseable Bundle is
    bisected the same way)."""
    db = tmp_path / "state.db"
    cfg = JobConfig(id_salt=f"refused-{dialect}", state_url=str(db),
                    load=_cfg(hapi_url, dialect, "x").load)
    out = tmp_path / "out"
    summary = convert(INPUTS, out, cfg)
    patients = _lines(out, "Patient")
    assert len(patients) >= 3
    wrong_type = _spoil(out, "Patient", 0, {"managingOrganization": {"reference": f"Patient/{patients[1]['id']}"}})
    unparseable = _spoil(out, "Patient", 2, {"birthDate": "not-a-date"})
    report = import_folder(out, cfg)
    assert report.rejected == {"Patient": 2}
    assert report.found["Patient"] == summary.resources["Patient"] - 2
    assert all(report.found[t] == n for t, n in report.sent.items() if t != "Patient")
    records = [orjson.loads(x) for x in (out / "errors" / LOAD_ERRORS).read_bytes().splitlines()]
    texts = sorted(r["issue"][0]["diagnostics"] for r in records)
    assert texts == sorted([
        f"fhir/Patient.000.ndjson: line 1: Patient/{wrong_type['id']}: the FHIR server refused the entry (HTTP 422)",
        f"fhir/Patient.000.ndjson: line 3: Patient/{unparseable['id']}: the FHIR server refused the entry (HTTP 400)",
    ])
    said = {r["issue"][0]["extension"][0]["extension"][0]["valueString"] for r in records}
    assert any("HAPI-0931" in s for s in said) and any("not-a-date" in s for s in said)  # only in the excerpt
    assert all("not-a-date" not in r["issue"][0]["details"]["text"] for r in records)
    for bad, field in ((wrong_type, "managingOrganization"), (unparseable, "birthDate")):
        # absent, or only the placeholder HAPI made for the resources pointing at it
        stored = httpx.get(f"{hapi_url}/Patient/{bad['id']}", timeout=30)
        assert stored.status_code == 404 or field not in stored.json()
    with StateStore.open(db) as state:  # not all on the server: the receipt says so
        receipt = state.receipts.for_output(str(out.resolve()))
        assert receipt is not None and receipt.state == "failed" and "2 resource(s) refused" in receipt.message


def test_cli_transaction_dialect_exit_status_3_when_the_server_refuses(tmp_path: Path, hapi_url: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    common = ["--fhir-url", hapi_url, "--dialect", "transaction", "--bundle-size", "50", "--no-state"]
    assert main(["convert", *map(str, INPUTS), "-o", str(out), "--id-salt", "cli-tx", "--no-parquet", "--no-state"]) == 0
    assert main(["import", str(out), *common]) == 0
    _spoil(out, "Patient", 0, {"birthDate": "not-a-date"})
    assert main(["import", str(out), *common]) == 3
    assert "1 resource(s) refused by the server: see errors/OperationOutcome.load.ndjson" in capsys.readouterr().out
    fixed = current_generation(out) / "fhir" / "Patient.000.ndjson"
    lines = fixed.read_bytes().splitlines()
    fixed.write_bytes(b"\n".join([orjson.dumps({k: v for k, v in orjson.loads(lines[0]).items() if k != "birthDate"}),
                                  *lines[1:]]) + b"\n")
    assert main(["import", str(out), *common]) == 0
    assert not (out / "errors" / LOAD_ERRORS).exists()  # the next clean load removes the stale records
