"""``fhirflow views run``: ViewDefinitions over a folder of FHIR NDJSON, one table per view.

Every ``*.ndjson`` and ``*.ndjson.gz`` under the input folder is read once, a line at a time; each
resource goes to the views of its ``resourceType``. A view's table is ``OUT/<name>.<format>``,
written through a temporary file and renamed when whole: a view that fails under way (a value that
does not fit its column) leaves no file, and the others are still written.

Spec: SQL-on-FHIR v2 ``$viewdefinition-run`` (the same result, from files instead of a server).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from etl.errors import ConfigError, StageError
from etl.stage.view_table import TableWriter, view_rows
from etl.stage.views import View


@dataclass
class ViewRunReport:
    """Rows written per view, the views that failed (name → reason), and what was read."""

    rows: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    definition_errors: set[str] = field(default_factory=set)  # failed views whose definition is at fault
    files: int = 0
    resources: int = 0
    unreadable: list[str] = field(default_factory=list)  # lines that are not JSON objects: "file:line"


def ndjson_files(folder: Path) -> list[Path]:
    """Every ``*.ndjson`` / ``*.ndjson.gz`` under ``folder``, hidden entries left out, in name order."""
    if not folder.is_dir():
        raise ConfigError(f"--input {folder}: not a folder")
    found = [p for pattern in ("*.ndjson", "*.ndjson.gz") for p in folder.rglob(pattern)
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(found)


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary file object
    return open(path, "rb")  # noqa: SIM115 - the caller's with closes it


def resources(files: list[Path], report: ViewRunReport, root: Path) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each resource of the files with its line (to read again exactly when a decimal needs it)."""
    for path in files:
        report.files += 1
        with _open(path) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    res = orjson.loads(line)
                except orjson.JSONDecodeError:
                    res = None
                if not isinstance(res, dict):
                    report.unreadable.append(f"{path.relative_to(root)}:{n}")
                    continue
                report.resources += 1
                yield res, line


def run_views(views: list[View], input_dir: Path, out_dir: Path, fmt: str = "parquet", run: str = "",
              typed_dates: bool = False, file_mode: int = 0o640) -> ViewRunReport:
    """Run ``views`` over the NDJSON under ``input_dir``; tables go to ``out_dir/<name>.<fmt>``."""
    files = ndjson_files(input_dir)
    report = ViewRunReport()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {out_dir}: cannot be created ({exc.strerror})") from None
    writers = {v.name: TableWriter(v, out_dir / f"{v.name}.{fmt}", fmt, run, typed_dates, file_mode) for v in views}
    by_type: dict[str, list[View]] = {}
    for v in views:
        by_type.setdefault(str(v.resource), []).append(v)
    try:
        for res, line in resources(files, report, input_dir):
            for view in by_type.get(res.get("resourceType", ""), ()):
                if view.name in report.failed:
                    continue
                w = writers[view.name]
                try:
                    w.add(view_rows(view, w.conv, res, line))
                except (StageError, ConfigError) as exc:
                    report.failed[view.name] = str(exc)
                    if isinstance(exc, ConfigError):  # e.g. many values in a column without collection
                        report.definition_errors.add(view.name)
                    w.abort()
        for name, w in writers.items():
            if name in report.failed:
                continue
            try:
                report.rows[name] = w.close()
            except (StageError, ConfigError) as exc:
                report.failed[name] = str(exc)
                w.abort()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    return report
