"""Helpers shared by the C-CDA tests (paths, converting one file or bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.sources.ccda.parse import parse_bytes
from etl.sources.ccda.source import CcdaSource
from etl.sources.ccda.to_fhir import to_fhir

DATA = Path(__file__).resolve().parents[2] / "data" / "ccda"
PAIRS = DATA / "fhir-converter"
INPUTS = sorted((PAIRS / "input").glob("*.ccda"))
# Every sample document: the FHIR-Converter inputs, the HL7 C-CDA-Examples documents, and the
# hand-made cases (tests/data/ccda/PROVENANCE.md).
ALL_INPUTS = INPUTS + sorted(p for p in (DATA / "documents").iterdir() if p.suffix.lower() == ".xml")
SALT = "test-salt"


def convert_file(path: Path, config: JobConfig | None = None) -> tuple[list[dict[str, Any]], list[Any]]:
    """(resources, error units) of one file, through the Source as the pipeline drives it."""
    src, cfg = CcdaSource(), config or JobConfig(id_salt=SALT)
    ctx = MappingContext(cfg.id_salt)
    resources: list[dict[str, Any]] = []
    errors = []
    for unit in src.read(path, cfg):
        if unit.error is not None:
            errors.append(unit)
        elif unit.record is not None:
            resources += src.to_fhir(unit.record, ctx, cfg)
    return resources, errors


def convert_bytes(data: bytes) -> list[dict[str, Any]]:
    return to_fhir(parse_bytes(data, "test.xml"), MappingContext(SALT))


def of_type(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == rtype]
