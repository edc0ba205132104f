"""Shared fixtures: sample paths, configs, the real HAPI FHIR server, an Airflow metadata DB.

Airflow reads its settings when first imported, so they are set here, before any test module runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# FHIRFLOW_TEST_VAR lets two test runs on one machine keep separate Airflow DBs.
VAR = Path(os.environ.get("FHIRFLOW_TEST_VAR", ROOT / "var" / "test"))

os.environ["AIRFLOW_HOME"] = str(VAR / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__PARALLELISM"] = "4"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

HAPI_PORT = int(os.environ.get("HAPI_PORT", "8080"))

# The modules setup.py compiles with mypyc (pyproject [tool.fhirflow] native), as (source, extension).
NATIVE = [(ROOT / m, (ROOT / m).with_suffix(sysconfig.get_config_var("EXT_SUFFIX")))
          for m in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["fhirflow"]["native"]]


def native_state() -> str:
    """``compiled``, ``pure``, or why neither: a compiled module older than its source shadows the
    edit (the tests would run yesterday's code), and a partial build mixes two copies of a class."""
    built = [(src, ext) for src, ext in NATIVE if ext.exists()]
    if not built:
        return "pure"
    if len(built) < len(NATIVE):
        missing = ", ".join(str(src.relative_to(ROOT)) for src, ext in NATIVE if not ext.exists())
        return f"partly compiled (not: {missing})"
    stale = [str(src.relative_to(ROOT)) for src, ext in built if src.stat().st_mtime > ext.stat().st_mtime]
    if stale:
        return f"compiled, but older than {', '.join(stale)}"
    return "compiled"


# FHIRFLOW_TEST_NDJSON_MEMORY_IDS (tests only): JobConfig.ndjson_memory_ids, to make the sink spill.
_CONVERT = """
import os
import sys
from pathlib import Path
from typing import Any
import etl
from etl.config import JobConfig
from etl.pipeline import convert
print(etl.__file__, etl.compiled())
memory_ids = int(os.environ.get("FHIRFLOW_TEST_NDJSON_MEMORY_IDS", JobConfig.ndjson_memory_ids))
convert([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]),
        JobConfig(id_salt="subprocess-test", transaction_time="2026-01-01T00:00:00+00:00",
                  ndjson_memory_ids=memory_ids))
"""


def convert_elsewhere(out: Path, inputs: list[Path], env: dict[str, str], cwd: Path = ROOT) -> tuple[str, bool]:
    """``etl.pipeline.convert`` in a fresh interpreter with ``env`` added (another build, another
    installation); the path of the ``etl`` package it imported and whether it ran compiled."""
    proc = subprocess.run([sys.executable, "-c", _CONVERT, str(out), *map(str, inputs)], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path, compiled = proc.stdout.split()[:2]
    return path, compiled == "True"


def pytest_configure(config: pytest.Config) -> None:
    state = native_state()
    if state not in ("compiled", "pure"):
        pytest.exit(f"fhirflow's mypyc-compiled modules are {state}: run `make native` "
                    "(or `make native COMPILE=0` for pure Python) before the tests", returncode=4)


def pytest_report_header(config: pytest.Config) -> str:
    return f"fhirflow native modules: {native_state()} ({len(NATIVE)} listed in pyproject [tool.fhirflow] native)"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def config():  # type: ignore[no-untyped-def]
    from etl.config import JobConfig

    return JobConfig(id_salt="test-salt", transaction_time="2026-01-01T00:00:00+00:00")


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/metadata", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def hapi_url() -> Iterator[str]:
    """Base URL of a real HAPI FHIR server: one that answers (FHIRFLOW_TEST_FHIR_URL or
    127.0.0.1:$HAPI_PORT), else one started now with docker/hapi/hapi.sh and stopped at the end."""
    url = os.environ.get("FHIRFLOW_TEST_FHIR_URL", f"http://127.0.0.1:{HAPI_PORT}/fhir")
    if _answers(url):
        yield url
        return
    script = ROOT / "docker" / "hapi" / "hapi.sh"
    proc = subprocess.run(["bash", str(script), "up", "--port", str(HAPI_PORT)], capture_output=True, text=True)
    if proc.returncode != 0 or not _answers(url):
        pytest.fail(f"could not start HAPI FHIR ({script} up):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    try:
        yield url
    finally:
        if not os.environ.get("FHIRFLOW_KEEP_HAPI"):
            subprocess.run(["bash", str(script), "down", "--port", str(HAPI_PORT)], capture_output=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 15 (Debian's): FHIRFLOW_TEST_PG_URL, or the project's own docker/postgres/pg.sh
    on 127.0.0.1:$PG_PORT, started now if it does not answer and stopped at the end."""
    url = os.environ.get("FHIRFLOW_TEST_PG_URL")
    if url:
        yield url
        return
    script = ROOT / "docker" / "postgres" / "pg.sh"
    port = os.environ.get("PG_PORT", "55432")
    was_up = subprocess.run(["bash", str(script), "url", "--port", port], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(script), "up", "--port", port], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"could not start PostgreSQL ({script} up):\n{proc.stderr[-3000:]}")
    try:
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        if not was_up:
            subprocess.run(["bash", str(script), "down", "--port", port], capture_output=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database of its own on the real PostgreSQL, dropped after the test."""
    import uuid

    import sqlalchemy

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield postgres_server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The run-state database on each backend it runs on: a SQLite file and a real PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite under var/test/airflow), made once per run."""
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".migrated"
    if not marker.exists():
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                              env=os.environ.copy())
        if proc.returncode != 0:
            pytest.fail(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
        marker.write_text(f"{time.monotonic() - started:.1f}s\n")
    return home


# An S3-compatible server (moto) on 127.0.0.1 for the object-storage tests. S3_PORT: one of the
# ports this checkout may use (15000 by default; parallel checkouts pass their own).
S3_PORT = int(os.environ.get("S3_PORT", "15000"))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """``http://127.0.0.1:S3_PORT``: a real S3 API (moto), for s3fs through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=S3_PORT, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{S3_PORT}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket on the moto server, with the AWS environment pointing at it; its ``s3://`` URL."""
    import uuid

    import fsspec

    for key, value in {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    fsspec.filesystem("s3").clear_instance_cache()
    bucket = f"fhirflow-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(bucket)
    yield f"s3://{bucket}"
    fsspec.filesystem("s3").clear_instance_cache()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """SQL-on-FHIR v2 suite: passes per file (tests/fhir/test_fhirpath_views.py)."""
    mod = sys.modules.get("tests.fhir.test_fhirpath_views") or sys.modules.get("test_fhirpath_views")
    results = getattr(mod, "SUITE_RESULTS", None)
    if not results:
        return
    terminalreporter.section("SQL-on-FHIR v2 suite, passes per file")
    for name, (passed, total) in sorted(results.items()):
        terminalreporter.write_line(f"{name:24} {passed}/{total}")


# The real Orthanc (with its DICOMweb plugin) the DICOMweb tests read from. Here rather than in a
# tests/sources/dicom/conftest.py: a second module named ``conftest`` replaces this one in
# sys.modules, and the tests that ``from conftest import ...`` then fail to import.
ORTHANC_SCRIPT = ROOT / "docker" / "orthanc" / "orthanc.sh"


@pytest.fixture(scope="session")
def orthanc_url() -> Iterator[str]:
    """DICOMweb base URL of a real Orthanc on 127.0.0.1:$ORTHANC_HTTP_PORT: the one answering there, else
    one started now by docker/orthanc/orthanc.sh (installing Debian's packages if missing), stopped at
    the end."""
    port = os.environ.get("ORTHANC_HTTP_PORT", "8042")
    dicom_port = os.environ.get("ORTHANC_DICOM_PORT", "4242")
    was_up = subprocess.run(["bash", str(ORTHANC_SCRIPT), "url", "--http-port", port], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(ORTHANC_SCRIPT), "up", "--http-port", port, "--dicom-port", dicom_port],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"could not start Orthanc ({ORTHANC_SCRIPT} up):\n{proc.stderr[-3000:]}")
    try:
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        if not was_up:
            subprocess.run(["bash", str(ORTHANC_SCRIPT), "down", "--http-port", port], capture_output=True)
