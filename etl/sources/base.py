"""The contract between the pipeline and a source format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from etl.config import JobConfig
from etl.errors import InputError, Location
from etl.fhir.context import MappingContext

R = TypeVar("R")
Resource = dict[str, Any]


@dataclass
class Unit(Generic[R]):
    """One unit of conversion and of rejection: an HL7v2 message, an X12 transaction set, a C-CDA
    document, a DICOM file. Either ``record`` is set, or ``error`` says why it could not be read.

    ``skip`` marks a unit deliberately not converted (e.g. an X12 interchange already loaded): it
    counts as skipped, neither converted nor rejected; ``note`` says why (one line, no PHI) and
    ``skip_detail`` gives its facts for the summary, the manifest and XCom (``{"interchange":
    "ISA06=… ISA13=…", "loaded_by": run, "loaded_at": time, "file": …}``).
    ``quoted`` holds source values that identify the unit (MSH-10), keyed by spec path: the
    pipeline adds them to the unit's error or warning record (the error NDJSON only, never the
    location text; see :class:`etl.errors.InputError`).
    """

    location: Location
    record: R | None = None
    error: InputError | None = None
    skip: bool = False
    note: str = ""
    skip_detail: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    quoted: dict[str, str] = field(default_factory=dict)


class Source(Protocol[R]):
    """A source format: how to recognise it, read it unit by unit, and map a unit to FHIR."""

    name: str

    def sniff(self, head: bytes) -> bool:
        """True if the first bytes of a file (4 KiB, or 4096 characters of UTF-16/32; BOM included)
        look like this format; :func:`etl.sources.encoding.utf8_head` reads them as UTF-8."""
        ...

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[R]]:
        """Stream the units of one file. Never raises :class:`InputError`: a broken unit or
        envelope is yielded as a ``Unit`` with ``error`` set, and reading goes on where it can."""
        ...

    def to_fhir(self, record: R, ctx: MappingContext, config: JobConfig) -> Iterable[Resource]:
        """Map one unit to resources; raise :class:`InputError` to reject the unit. May be a
        generator: the pipeline serializes each resource as it comes (so it must be complete when
        yielded) and writes none of them unless the whole unit maps."""
        ...

    def rejected(self, record: R) -> None:
        """Called when a unit this source read was rejected while mapping (optional)."""
        ...

    def finish(self, config: JobConfig, out_dir: Path) -> None:
        """Called once after every file was read and all output is published (e.g. a ledger)."""
        ...
