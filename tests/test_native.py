"""The mypyc-compiled build and pure Python give the same output, byte for byte.

setup.py compiles the modules named in pyproject ``[tool.fhirflow] native``; ``FHIRFLOW_NO_EXTENSIONS=1``
makes the same installation import the ``.py`` files instead (:mod:`etl._pure_python`). Compiled
code checks annotations at run time and may order some work differently, so the same inputs are
converted both ways here: every X12, HL7 v2 and C-CDA sample (good and malformed), plus a generated
837P of several transaction sets (with the NDJSON sink's id index spilling to disk), and the NDJSON,
error and warning files, the Parquet tables and the manifest must be identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import ROOT, convert_elsewhere, native_state

from etl.stage.output import current_generation

sys.path.insert(0, str(ROOT / "bench" / "x12"))
from gen_837p import generate  # noqa: E402


def _files(out: Path) -> list[Path]:
    """The output's files as readers name them (``fhir/...``: the published generation's)."""
    base = current_generation(out)
    return sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file())


@pytest.mark.skipif(native_state() != "compiled", reason="pure Python build: nothing to compare")
def test_compiled_and_pure_python_write_the_same_output(tmp_path: Path, data_dir: Path) -> None:
    generated = tmp_path / "generated.837p"
    generate(generated, 11_000, members=800)  # three transaction sets (5,000 claims each at most)
    inputs = [data_dir / "x12", data_dir / "hl7v2", data_dir / "ccda", generated]

    # A cap of 2,000 ids in memory: the NDJSON sink's index spills to disk several times over.
    spill = {"FHIRFLOW_TEST_NDJSON_MEMORY_IDS": "2000"}
    assert convert_elsewhere(tmp_path / "compiled", inputs, {"FHIRFLOW_NO_EXTENSIONS": "0", **spill})[1]
    assert not convert_elsewhere(tmp_path / "pure", inputs, {"FHIRFLOW_NO_EXTENSIONS": "1", **spill})[1]

    compiled, pure = tmp_path / "compiled", tmp_path / "pure"
    assert _files(compiled) == _files(pure)
    assert any(p.parts[0] == "errors" for p in _files(compiled)), "the malformed samples must be compared too"
    for rel in _files(compiled):
        if rel.suffix == ".parquet":
            assert pq.read_table(compiled / rel).equals(pq.read_table(pure / rel)), rel
        else:
            assert (compiled / rel).read_bytes() == (pure / rel).read_bytes(), rel


def test_no_extensions_switch_imports_the_sources() -> None:
    env = {**os.environ, "FHIRFLOW_NO_EXTENSIONS": "1"}
    code = "import etl.sources.x12.envelope as m, etl; print(m.__file__, etl.compiled())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    path, compiled = proc.stdout.split()
    assert path.endswith("envelope.py") and compiled == "False"
