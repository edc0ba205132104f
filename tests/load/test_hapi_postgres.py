"""The launcher on PostgreSQL (the production shape): docker/hapi/hapi.sh --db postgresql starts a
PostgreSQL cluster of its own (docker/postgres/pg.sh) and HAPI on it; $import loads and verifies
there, and `down` stops both. Port: HAPI_PORT + 1 (FHIRFLOW_TEST_HAPI_PG_PORT), its PostgreSQL
that + 40000."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from etl.config import ImportConfig, JobConfig
from etl.load.importer import import_folder
from etl.pipeline import convert

pytestmark = pytest.mark.hapi

ROOT = Path(__file__).resolve().parents[2]
HAPI = ROOT / "docker" / "hapi" / "hapi.sh"
HL7 = ROOT / "tests" / "data" / "hl7v2" / "python-hl7"
PORT = int(os.environ.get("FHIRFLOW_TEST_HAPI_PG_PORT", int(os.environ.get("HAPI_PORT", "8080")) + 1))


def test_hapi_on_postgresql_imports_and_stops_with_its_database(tmp_path: Path) -> None:
    # Not under tmp_path: pytest's folders are 0700 and the cluster belongs to the postgres user.
    data = Path(os.environ.get("FHIRFLOW_TEST_VAR", ROOT / "var" / "test")) / f"hapi-pg-{PORT}"
    shutil.rmtree(data, ignore_errors=True)
    env = {**os.environ, "HAPI_DATA_DIR": str(data), "HAPI_START_TIMEOUT": "600"}
    up = subprocess.run(["bash", str(HAPI), "up", "--port", str(PORT), "--db", "postgresql"],
                        capture_output=True, text=True, env=env)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        url = up.stdout.strip().splitlines()[-1]
        assert "PostgreSQL database at jdbc:postgresql://127.0.0.1:" in (data / "hapi.log").read_text()
        cfg = JobConfig(id_salt="hapi-pg", load=ImportConfig(fhir_url=url, max_retry_after_s=2, poll_interval_s=1))
        summary = convert([HL7 / "sample_batch1.hl7"], tmp_path / "out", cfg)
        report = import_folder(tmp_path / "out", cfg)
        assert report.found == report.sent == dict(summary.resources)
    finally:
        down = subprocess.run(["bash", str(HAPI), "down", "--port", str(PORT)], capture_output=True, text=True, env=env)
    assert "stopping its PostgreSQL" in down.stderr
    assert not (data / "pg" / "postmaster.pid").exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/metadata", timeout=5)
