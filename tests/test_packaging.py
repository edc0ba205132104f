"""An installed fhirflow (a wheel, not this source tree) converts with its Parquet view columns.

The views live in ``schemas/views`` beside ``etl/``; setup.py copies them into the wheel as
``etl/schemas/views``. Without them every Parquet table would lose its flat columns, so this builds
the (pure-Python) wheel, unpacks it away from the source tree and converts a sample from there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
from conftest import DATA, ROOT, convert_elsewhere


def test_a_wheel_carries_the_views_and_converts_with_them(tmp_path: Path) -> None:
    uv = Path(sys.executable).parent / "uv"
    env = {**os.environ, "FHIRFLOW_COMPILE": "0"}
    subprocess.run([str(uv), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), "-q", str(ROOT)],
                   env=env, check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("fhirflow-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    views = {p.name for p in (site / "etl" / "schemas" / "views").glob("*.json")}
    assert views == {p.name for p in (ROOT / "schemas" / "views").glob("*.json")}

    path, _ = convert_elsewhere(tmp_path / "out", [DATA / "hl7v2" / "fhir-converter" / "ADT-A01-01.hl7"],
                                {"PYTHONPATH": str(site)}, cwd=tmp_path)
    assert path.startswith(str(site)), "ran the source tree, not the wheel"
    columns = pq.read_schema(next((tmp_path / "out" / "parquet" / "Patient").glob("*.parquet"))).names
    assert {"id", "family", "gender", "birth_date", "resource"} <= set(columns)
