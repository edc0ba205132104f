"""DICOM: files per second reading headers and building ImagingStudy, against plain pydicom reads.

In one process, warm, over the same generated files (bench/dicom/gen_files.py):

- fhirflow: :class:`etl.sources.dicom.source.DicomSource` as the pipeline drives it: read each
  file's header, validate the instance, record it in the study index (a SQLite run-state database),
  then build every study's resources and serialize them to NDJSON lines;
- peer: ``pydicom.dcmread(path, stop_before_pixels=True)`` of each file, nothing else.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pydicom

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.sources.dicom.source import DicomSource
from etl.stage.ndjson import dumps_line
from etl.state import StateStore


def run_fhirflow(files: list[Path]) -> tuple[int, int, int, float]:
    """(instances, studies, resources, seconds) for reading ``files`` and building their studies."""
    config = JobConfig(id_salt="bench", run_id="bench")
    ctx = MappingContext(config.id_salt, config.strictness)
    with tempfile.TemporaryDirectory() as tmp, StateStore.open(Path(tmp) / "state.db") as state:
        source = DicomSource(state)
        started = time.perf_counter()
        instances = studies = resources = 0
        for path in files:
            for unit in source.read(path, config):
                assert unit.record is not None, unit.error
                source.to_fhir(unit.record, ctx, config)
                instances += 1
        for unit in source.after_files(config):
            assert unit.record is not None
            resources += len([dumps_line(r) for r in source.to_fhir(unit.record, ctx, config)])
            studies += 1
        return instances, studies, resources, time.perf_counter() - started


def run_pydicom(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return time.perf_counter() - started
