"""The one exception tree of fhirflow.

Every exception fhirflow raises on purpose derives from :class:`FhirflowError`::

    FhirflowError
    ├── ConfigError                 bad settings or usage; exit status 2
    ├── InputError                  a source unit cannot be converted (becomes an error record)
    │   ├── ParseError              the bytes are not the format they claim (bad segment, bad XML)
    │   ├── EnvelopeError           a batch/interchange envelope is broken (BHS without BTS, SE01 wrong)
    │   ├── UnsupportedError        a version or message/transaction type we do not map (4010, 270)
    │   ├── MappingError            parsed, but required content is missing or invalid
    │   └── InternalError           fhirflow itself failed on the unit (a bug): made from the exception
    ├── StageError                  writing NDJSON/Parquet/manifest failed
    └── LoadError                   talking to the FHIR server failed
        ├── TransientLoadError      worth retrying: HTTP 408/429/5xx, timeouts, connection resets
        └── PermanentLoadError      retrying will not help: 4xx, a failed import job, bad counts

Per-record problems (``InputError``) never stop a run: the pipeline turns them into FHIR
OperationOutcome records in ``OUT/errors/`` and carries on. So does any other exception raised while
one unit is mapped (or a file is read): it becomes an :class:`InternalError` record that names the
exception type and fhirflow's code location, never the exception's text (it may quote the data).
``OSError``, ``MemoryError`` and the other ``FhirflowError`` kinds are not per-record: they stop the
run, and a re-run starts clean. ``TransientLoadError`` is what Airflow retries;
``PermanentLoadError`` maps to ``AirflowFailException`` (fail without retrying).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path


class FhirflowError(Exception):
    """Base class of all fhirflow errors."""


class ConfigError(FhirflowError):
    """Settings or command-line usage are wrong; the message says which setting and how to fix it."""


class PreflightError(ConfigError):
    """A load would break a rule of the target server (checked before anything is sent): names the
    file and the rule. The CLI exits 2, like any other usage error."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__("pre-flight check failed, nothing was sent:\n  " + "\n  ".join(shown))


@dataclass(frozen=True)
class Location:
    """Where inside an input a problem is, in the source format's own terms.

    ``file`` is the input file name; ``where`` is a human path such as
    ``"message 3 (MSH-10 MSG00001)"`` or ``"ISA13=000000001 GS06=1 ST02=0001, segment 14 (CLM)"``;
    ``expression`` names the source field by its spec path (``PID-3``, ``CLM05-3``, ``0020,000D``).
    """

    file: str
    where: str = ""
    expression: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.where:
            parts.append(self.where)
        if self.expression:
            parts.append(self.expression)
        return ", ".join(parts)


class InputError(FhirflowError):
    """One source unit (message, transaction set, document, DICOM file) cannot be converted.

    ``code`` is a FHIR ``IssueType`` code (``structure``, ``invalid``, ``required``,
    ``not-supported``, ``value``, ``duplicate``, ``security``, ``too-long``).

    ``message`` is operations text: it goes to logs, XCom, the run note and the terminal, so it names
    codes, spec paths and places, never a value taken from the input. Values an analyst needs to find
    the record (CLM01, MSH-10, a bad segment's text) go in ``quoted``, keyed by spec path: they are
    written only into the error NDJSON (an extension on the issue, see :mod:`etl.fhir.outcome`).
    """

    code = "invalid"

    def __init__(self, message: str, location: Location | None = None, *, code: str | None = None,
                 quoted: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.quoted: dict[str, str] = dict(quoted) if quoted else {}
        if code is not None:
            self.code = code

    def quote(self, path: str, value: str) -> InputError:
        """Keep the source ``value`` at spec ``path`` (``CLM01``) for the error NDJSON only; returns self."""
        if value:
            self.quoted[path] = value
        return self

    def at(self, location: Location) -> InputError:
        """Attach a location if none was known where the error was raised; returns self."""
        if self.location is None:
            self.location = location
        else:
            self.location = Location(
                self.location.file or location.file,
                self.location.where or location.where,
                self.location.expression or location.expression,
            )
        return self

    def at_expression(self, expression: str | None) -> InputError:
        """Name the source field (``PID-3``) the problem is in; returns self."""
        if expression:
            loc = self.location or Location(file="")
            self.location = Location(loc.file, loc.where, expression)
        return self

    def __str__(self) -> str:
        return f"{self.message} [{self.location}]" if self.location else self.message


class ParseError(InputError):
    """The bytes do not follow the format's syntax."""

    code = "structure"


class EnvelopeError(InputError):
    """A batch or interchange envelope is broken: missing trailer, wrong counts, mismatched ids."""

    code = "structure"


class UnsupportedError(InputError):
    """The input is a version, message type or transaction set fhirflow does not convert."""

    code = "not-supported"


class MappingError(InputError):
    """The unit parsed, but content FHIR requires is missing or invalid."""

    code = "required"


class InternalError(InputError):
    """fhirflow failed on a unit through a fault of its own (an unexpected exception while mapping
    or reading): the unit is rejected like bad data, so the other units still convert, and the
    record says it is a fhirflow bug to report."""

    code = "exception"

    @classmethod
    def from_exception(cls, exc: BaseException, doing: str) -> InternalError:
        """The error for ``exc`` raised while ``doing`` (``"mapping this unit"``): its type and the
        innermost fhirflow frame, without ``str(exc)``, which may quote patient data."""
        where = ""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            parts = Path(frame.filename).parts
            if "etl" in parts:
                rel = "/".join(parts[len(parts) - parts[::-1].index("etl") - 1:])
                where = f" in {rel} line {frame.lineno} ({frame.name})"
                break
        return cls(f"fhirflow failed while {doing}: internal error {type(exc).__name__}{where}. This is a "
                   "fhirflow bug, not a verdict on the data: the unit was not converted; report this record "
                   "(it holds no patient data) and convert the file again once fixed")


class StageError(FhirflowError):
    """Writing the output folder failed (disk full, permissions, a concurrent writer)."""


class LoadError(FhirflowError):
    """Loading into the FHIR server failed. ``outcome`` holds the server's OperationOutcome, if any."""

    def __init__(self, message: str, *, status: int | None = None, outcome: dict[str, object] | None = None):
        super().__init__(message)
        self.status = status
        self.outcome = outcome


class TransientLoadError(LoadError):
    """A fault worth retrying with backoff (HTTP 408, 429, 5xx, timeouts, dropped connections)."""


class PermanentLoadError(LoadError):
    """A fault that retrying will not fix (HTTP 4xx, an import job the server reports as failed)."""
