"""Which source format a file is, decided from its first bytes.

Formats are imported lazily so that ``fhirflow --help`` and DAG parsing stay fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from etl.errors import Location, UnsupportedError
from etl.sources.encoding import read_head

# name -> "module:ClassName"; order matters only when two formats could both match.
FORMATS: dict[str, str] = {
    "x12": "etl.sources.x12.source:X12Source",
    "hl7v2": "etl.sources.hl7v2.source:Hl7v2Source",
    "ccda": "etl.sources.ccda.source:CcdaSource",
    "dicom": "etl.sources.dicom.source:DicomSource",
}

_loaded: dict[str, Any] = {}


def get_source(name: str) -> Any:
    """A shared Source object of format ``name`` (a key of :data:`FORMATS`), for
    what keeps no state (:meth:`sniff`); a run reads and maps with its own :func:`new_source`."""
    if name not in _loaded:
        _loaded[name] = new_source(name)
    return _loaded[name]


def new_source(name: str, state: Any = None) -> Any:
    """A fresh Source object of format ``name`` for one run: a source may remember what the run
    read (X12: the interchanges, for the re-send ledger), and a run that dies must not leave that
    to the next run in the same process. A source class marked ``stateful`` gets the run-state
    database (:class:`etl.state.StateStore`, or None) as its one argument."""
    module, _, name_ = FORMATS[name].partition(":")
    cls = getattr(importlib.import_module(module), name_)
    return cls(state) if getattr(cls, "stateful", False) else cls()


def available() -> list[str]:
    """Formats whose module is present in this installation."""
    out = []
    for name, target in FORMATS.items():
        try:
            importlib.import_module(target.partition(":")[0])
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


def detect(path: Path) -> str:
    """The name of the format of ``path``; :class:`UnsupportedError` if none recognises it."""
    with open(path, "rb") as fh:
        head = read_head(fh)  # 4 KiB; as many characters of UTF-16/32
    for name in available():
        if get_source(name).sniff(head):
            return name
    raise UnsupportedError(
        "not a recognised input: expected X12 (starts with ISA), HL7v2 (MSH/FHS/BHS), "
        "C-CDA (XML ClinicalDocument) or DICOM (DICM after a 128-byte preamble, a data set, a zip archive)",
        Location(file=path.name),
    )
