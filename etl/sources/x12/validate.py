"""Optional TR3 validation with pyx12 (``JobConfig.x12_validate``, CLI ``--validate``).

pyx12 4.0 has 5010 maps for 837P (X222A1), 837I (X223A2), 835 (X221A1) and 834 (X220A1), but none
for 837D (X224), 270/271 or 276/277: files holding those are not validated (said in a warning).
Its ``x12valid`` script exits 1 for valid and invalid files alike, so the boolean of
``pyx12.x12n_document.x12n_document()`` is used, with the 999 it writes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from etl.errors import InputError, Location
from etl.sources.encoding import detect_encoding, open_utf8
from etl.sources.x12.tokenize import SegmentReader

PYX12_MAPS = {"005010X222A1", "005010X223A2", "005010X221A1", "005010X220A1"}


class ValidationFailed(InputError):
    """pyx12 found the file invalid against its TR3 map."""

    code = "invalid"


def file_versions(path: Path) -> set[str]:
    """The implementation guides a file names (every ST03, else its GS08); empty if unreadable."""
    versions: set[str] = set()
    gs08 = ""
    try:
        with open_utf8(path) as fh:
            reader = SegmentReader(fh, path.name)
            for _, text in reader:
                el = reader.delimiters.element if reader.delimiters is not None else "*"
                e = text.split(el)
                if e[0] == "GS":
                    gs08 = e[8] if len(e) > 8 else ""
                elif e[0] == "ST":
                    v = (e[3] if len(e) > 3 else "") or gs08
                    if v:
                        versions.add(v)
    except (OSError, InputError):
        pass
    return versions


@contextlib.contextmanager
def _readable_by_pyx12(path: Path) -> Iterator[Path]:
    """``path`` itself, or for a UTF-16/32 file a UTF-8 copy in a private temporary folder (pyx12
    reads single-byte text only), removed afterwards."""
    with open(path, "rb") as fh:
        codec, _ = detect_encoding(fh.read(4))
    if codec is None or codec == "utf-8":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="fhirflow-validate-") as tmp:
        copy = Path(tmp) / path.name
        with open_utf8(path) as src, open(os.open(copy, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600), "wb") as dst:
            shutil.copyfileobj(src, dst)
        yield copy


def validate_file(path: Path, versions: set[str]) -> tuple[InputError | None, list[str]]:
    """(error when pyx12 finds the file invalid, warnings). ``versions``: GS08/ST03 values seen."""
    missing = sorted(v for v in versions if v not in PYX12_MAPS)
    if not versions:
        return None, ["--validate: no transaction set version (GS08/ST03) could be read; pyx12 was not run"]
    if missing:
        return None, [f"--validate: pyx12 has no map for {', '.join(missing)}; the file was not validated"]
    try:
        import pyx12.params
        import pyx12.x12n_document
    except ImportError:  # pragma: no cover - pyx12 is a dependency
        return None, ["--validate: pyx12 is not installed"]
    ack = io.StringIO()
    logger = logging.getLogger("pyx12")
    records: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR or "error" in record.getMessage().lower():
                records.append(record.getMessage())

    handler = _Collect(logging.DEBUG)
    logger.addHandler(handler)
    # pyx12's messages quote element values (possibly PHI): they go to the error record, never the log
    propagate, logger.propagate = logger.propagate, False
    try:
        param = pyx12.params.params()
        with _readable_by_pyx12(path) as readable:
            ok = pyx12.x12n_document.x12n_document(param, str(readable), ack, None, None)
    except Exception as exc:  # noqa: BLE001 - pyx12 raises plain exceptions on garbage
        ok = False
        records.append(f"pyx12 stopped: {type(exc).__name__}: {exc}")
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    if ok:
        return None, []
    text999 = ack.getvalue().replace("\n", "")
    ik = [s for s in text999.split("~") if s.startswith(("IK3", "IK4", "IK5", "AK9"))][:20]
    findings = records[:20]
    # pyx12's findings and the 999's IK3/IK4 segments quote element values: the excerpt, not the text.
    err = ValidationFailed(f"pyx12 found the file invalid against its TR3 map ({len(records)} finding(s)); "
                           "the findings and the 999 segments are in this record's source excerpt",
                           Location(path.name, "whole file (pyx12 --validate)"))
    err.quote("pyx12", "; ".join(findings or ["see the 999"])).quote("999", "~".join(ik))
    return err, []
