"""Convert input files to a staged output folder: the ``convert`` step of CLI and DAGs.

Every unit read from an input ends in exactly one place: resources in ``fhir/`` (and their rows in
``parquet/``), an OperationOutcome in ``errors/``, or a skip recorded in the summary (an X12
interchange already loaded). A rejected unit never stops the others.

A unit may also convert in part: a mapper that rejects one claim of an X12 transaction set (see
:mod:`etl.sources.x12.claims`) records it with :meth:`MappingContext.reject` and maps the rest.
Each such claim is an error record and one *rejected* unit of the file's summary; the set counts
as one *converted* unit when it gave any resource (so ``attempted = succeeded + rejected`` and
``rejected`` = the number of error records). Any rejection makes the run's exit status 3 and sends
the file to quarantine, and the source's ``rejected(record)`` hook is called (an X12 interchange
with a rejected claim is never recorded as loaded).
"""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.config import JobConfig, Strictness
from etl.errors import ConfigError, FhirflowError, InputError, InternalError, Location, ParseError, UnsupportedError
from etl.fhir.context import MappingContext
from etl.fhir.outcome import issue, to_fhir_operation_outcome
from etl.progress import Reporter
from etl.sources.base import Unit
from etl.sources.inputs import InputFile, expand_inputs, is_url, url_input
from etl.sources.registry import detect, new_source
from etl.stage.manifest import build_manifest
from etl.stage.ndjson import REPLACED, NdjsonSink, dumps_line
from etl.stage.output import StepHook, fresh_staging, publish
from etl.stage.parquet import ndjson_to_parquet
from etl.stage.tables import table_views, write_tables
from etl.stage.views import View, load_views
from etl.state import open_state
from etl.summary import FileSummary, RunSummary

if TYPE_CHECKING:
    from etl.state import StateStore

log = logging.getLogger(__name__)

# Faults of the machine, not of one unit: they stop the run (Airflow retries the task; the output
# folder is untouched until publish). Everything else raised inside one unit rejects that unit.
_NOT_PER_UNIT = (OSError, MemoryError, FhirflowError)


def convert(
    inputs: Sequence[Path | str],
    out: Path,
    config: JobConfig,
    *,
    progress: Reporter | None = None,
    format_name: str | None = None,
    on_publish_step: StepHook | None = None,
) -> RunSummary:
    """Convert ``inputs`` into ``out``; returns the run summary (also written to the manifest).
    ``progress`` is told what happens (:mod:`etl.progress`; the CLI shows it, a DAG task does not).
    ``on_publish_step`` is called before each step of :func:`etl.stage.output.publish` (tests kill
    the process there)."""
    summary = RunSummary()
    # Every view is compiled before anything is read: a bad one stops the run here (exit 2).
    tables = table_views(config) if config.parquet else []
    views = load_views() if config.parquet else {}
    urls = [str(i) for i in inputs if is_url(i)]
    files = expand_inputs([Path(i) for i in inputs if not is_url(i)], follow_symlinks=config.follow_symlinks,
                          skipped=summary.entries_skipped)
    files += [url_input(u) for u in urls]
    staging = _new_generation(out)
    # One transaction time for the whole run: the manifest's, and what the tables and the lake record.
    tt = config.transaction_time or datetime.now(UTC).isoformat(timespec="seconds")
    config = replace(config, transaction_time=tt, run_label=config.run_label or config.run_id or tt)
    if config.run_id is None:
        # A re-run into the same folder is the same run: ledgers must not treat it as a re-send.
        config = replace(config, run_id=str(out.resolve()))
    state = open_state(config)
    progress = progress or _Silent()
    progress.start([f.path for f in files])
    try:
        return _convert(files, out, staging, summary, config, state, progress, format_name, on_publish_step,
                        views, tables)
    finally:
        progress.close()
        if state is not None:
            state.close()


def _convert(files: list[InputFile], out: Path, staging: Path, summary: RunSummary, config: JobConfig,
             state: StateStore | None, progress: Reporter, format_name: str | None,
             on_publish_step: StepHook | None, views: dict[str, View], tables: list[View]) -> RunSummary:
    fhir = NdjsonSink(staging / "fhir", config.ndjson_max_bytes, config.ndjson_memory_ids)
    errors = NdjsonSink(staging / "errors", config.ndjson_max_bytes, config.ndjson_memory_ids)
    warnings = NdjsonSink(staging / "warnings", config.ndjson_max_bytes, config.ndjson_memory_ids)
    used: dict[str, Any] = {}
    ctx = MappingContext(config.id_salt, config.strictness, config.source_timezone)
    # A unit keeps ~600k objects alive (an X12 set of 5,000 claims) and mapping allocates millions
    # more that reference counting frees: with the default threshold (700) the collector walks the
    # live ones ~15 times per unit, a quarter of the run. Collect less often while converting.
    gc_threshold = gc.get_threshold()
    gc.set_threshold(max(gc_threshold[0], 50_000), *gc_threshold[1:])
    try:
        _convert_files(files, format_name, config, state, summary, used, ctx, (fhir, errors, warnings), progress)
        for source in list(used.values()):
            if hasattr(source, "after_files"):
                _after_files(source, files, summary, ctx, config, (fhir, errors, warnings))
    except BaseException:
        for source in used.values():
            close = getattr(source, "close", None)
            if close is not None:
                close()
        raise
    finally:
        gc.set_threshold(*gc_threshold)

    written = fhir.close()
    error_files = errors.close()
    warning_files = warnings.close()
    _release_memory()
    outputs: dict[str, list[tuple[str, int]]] = {}
    if config.parquet:
        progress.phase("parquet", sum(len(parts) for parts in written.values()) + 1)
    for rtype, parts in written.items():
        for i, (p, count) in enumerate(parts):
            summary.resources[rtype] += count
            outputs.setdefault(rtype, []).append((f"fhir/{p.name}", count))
            if config.parquet:
                dst = staging / "parquet" / rtype / f"part-{i:03d}.parquet"
                ndjson_to_parquet(p, dst, views.get(rtype), config.parquet_row_group, run=config.run_label or "")
                progress.step()
    table_parts: dict[str, list[tuple[str, int]]] = {}
    if config.parquet:
        table_parts = write_tables(tables, {t: [(p, n) for p, n in parts] for t, parts in written.items()},
                                   staging / "parquet", config.run_label or "", config.file_mode)
        progress.step()
    err_list = [(f"errors/{p.name}", n) for parts in error_files.values() for p, n in parts]
    summary.errors = sum(n for _, n in err_list)
    doc = build_manifest(
        config.transaction_time or datetime.now(UTC).isoformat(timespec="seconds"),  # set by convert()
        outputs,
        err_list,
        summary.to_dict(),
    )
    doc["extension"]["https://fhirflow.dev/tables"] = [
        {"table": name, "url": rel, "count": n} for name, parts in table_parts.items() for rel, n in parts
    ]
    doc["extension"]["https://fhirflow.dev/warnings"] = [
        {"url": f"warnings/{p.name}", "count": n} for parts in warning_files.values() for p, n in parts
    ]
    progress.phase("publish", 1)
    publish(out, staging, doc, file_mode=config.file_mode, on_step=on_publish_step)
    progress.step()
    if config.lake_root and config.parquet:
        # After publishing: the batch is whole; a failed merge fails the run and a re-run merges again
        # (a merge of the same batch twice changes nothing).
        from etl.stage.lake import merge_batch

        merged = merge_batch(Path(config.lake_root), out, str(config.transaction_time))
        log.info("current-state tables: merged %d table(s) into %s", len(merged), config.lake_root)
    for source in used.values():
        finish = getattr(source, "finish", None)
        if finish is not None:
            finish(config, out)
    return summary


def _new_generation(out: Path) -> Path:
    """The run's new generation folder in ``out``; a folder that cannot be written is a usage error."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        return fresh_staging(out)
    except OSError as exc:
        why = "it is not a folder" if out.exists() and not out.is_dir() else exc.strerror or type(exc).__name__
        raise ConfigError(f"the output folder {out} cannot be written: {why}") from None


def _convert_files(
    files: list[InputFile], format_name: str | None, config: JobConfig, state: StateStore | None,
    summary: RunSummary, used: dict[str, Any],
    ctx: MappingContext, sinks: tuple[NdjsonSink, NdjsonSink, NdjsonSink], progress: Reporter,
) -> None:
    """Read every file unit by unit; each unit ends in exactly one place (see the module doc)."""
    fhir, errors, warnings = sinks
    for index, item in enumerate(files):
        path = item.path
        fs = FileSummary(name=item.name)
        summary.files.append(fs)
        if item.refused:  # never opened: a FIFO would block
            _reject(errors, fs, UnsupportedError(f"{item.refused}, not a regular file: only regular files "
                                                 "are read, and this one was not opened", Location(item.name)), ctx)
            continue
        try:
            fs.format = "dicom" if item.url else format_name or detect(path)
        except InputError as exc:
            _reject(errors, fs, exc, ctx)
            continue
        except OSError as exc:
            _reject(errors, fs, ParseError(f"cannot read the file: {exc.strerror}"), ctx)
            continue
        source = used.get(fs.format)
        if source is None:  # one per format and run: it may remember what the run read
            source = used[fs.format] = new_source(fs.format, state)
        progress.file(index, path, fs.format)
        read = 0
        try:
            for unit in source.read_url(item.url, config) if item.url else source.read(path, config):
                read += 1
                progress.unit(_convert_unit(unit, source, fs, ctx, config, fhir, errors, warnings))
                # Let the unit's record (an X12 transaction set holds up to 5,000 claims of segments)
                # go before the source reads the next one, or two of them are alive at once.
                del unit
        except InputError as exc:  # a reader must yield these as units; one that raised lost the rest
            _reject(errors, fs, exc.at(Location(fs.name, f"after unit {read}")), ctx)
        except _NOT_PER_UNIT:
            raise
        except Exception as exc:  # a reader bug: the rest of this file cannot be read, the next files can
            err = _internal(exc, f"reading the file after its first {read} unit(s)", fs.name)
            _reject(errors, fs, err.at(Location(fs.name, f"after unit {read}")), ctx)
        log.info("converted %s: %d/%d units, %d rejected", fs.name, fs.succeeded, fs.attempted, fs.rejected)


def _after_files(source: Any, files: list[InputFile], summary: RunSummary, ctx: MappingContext, config: JobConfig,
                 sinks: tuple[NdjsonSink, NdjsonSink, NdjsonSink]) -> None:
    """The units a source makes once every file was read (the DICOM source: one per study touched,
    holding every instance known of it). Each maps like any unit; its error or warnings record and
    its counts go to the input that last contributed to it (``unit.location.file`` is that input's
    path), so a study that cannot be mapped quarantines that input."""
    fhir, errors, warnings = sinks
    by_path = {f.url or str(f.path): fs for f, fs in zip(files, summary.files, strict=True)}
    try:
        for unit in source.after_files(config):
            fs = by_path.get(unit.location.file) or summary.files[-1]
            scratch = FileSummary(name=fs.name)
            _convert_unit(unit, source, scratch, ctx, config, fhir, errors, warnings)
            # A study that converted is not a unit of the file: only its rejection and warnings count.
            fs.attempted += scratch.rejected
            fs.rejected += scratch.rejected
            fs.warnings += scratch.warnings
            for rtype, n in scratch.superseded.items():
                fs.superseded[rtype] = fs.superseded.get(rtype, 0) + n
    except _NOT_PER_UNIT:
        raise
    except Exception as exc:  # a bug assembling the studies: the last input carries the record
        if not summary.files:
            raise
        fs = summary.files[-1]
        err = _internal(exc, "assembling the studies read", fs.name)
        _reject(errors, fs, err.at(Location(fs.name, "after all files")), ctx)


class _Silent:
    """The reporter of a run nobody watches (a DAG task, ``--quiet``)."""

    def start(self, files: Sequence[Path]) -> None: ...
    def file(self, index: int, path: Path, fmt: str) -> None: ...
    def unit(self, resource_types: Sequence[str]) -> None: ...
    def phase(self, name: str, total: int) -> None: ...
    def step(self) -> None: ...
    def close(self) -> None: ...


def _release_memory() -> None:
    """Hand memory freed by the conversion back to the OS before the Parquet step allocates its
    own: glibc keeps freed heap pages otherwise, and the two phases' peaks would add up."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols: glibc's, on Linux
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        pass


def _convert_unit(
    unit: Unit[Any], source: Any, fs: FileSummary, ctx: MappingContext, config: JobConfig,
    fhir: NdjsonSink, errors: NdjsonSink, warnings: NdjsonSink,
) -> list[str]:
    """One unit into exactly one place: resources, an error record, or a skip in the summary.
    Returns the types of the resources written (for the progress reporter)."""
    if unit.skip:
        fs.skipped += 1
        if unit.note and unit.note not in fs.notes:
            fs.notes.append(unit.note)
            if unit.skip_detail:
                fs.skips.append(dict(unit.skip_detail))
                log.warning("skipped in %s: %s", fs.name, unit.note)
        return []
    if unit.error is not None:
        _reject(errors, fs, _quoting(unit.error, unit).at(unit.location), ctx)
        return []
    ctx.warnings, ctx.excerpts, ctx.kept = list(unit.warnings), {}, {}
    try:
        # Serialized as they come: a unit's lines take a fraction of its dicts' memory, and they
        # reach the sink only once the whole unit mapped (a unit is all or nothing).
        lines = [(r["resourceType"], r.get("id"), dumps_line(r)) for r in source.to_fhir(unit.record, ctx, config)]
    except InputError as exc:
        _reject_mapped(unit, source, fs, exc, ctx, errors)
        return []
    except _NOT_PER_UNIT:
        raise
    except Exception as exc:  # a mapper bug on this unit: reject it, map the others
        _reject_mapped(unit, source, fs, _internal(exc, "mapping this unit", fs.name), ctx, errors)
        return []
    parts_rejected = ctx.take_rejections()
    for kind, n in ctx.take_kept().items():
        fs.kept[kind] = fs.kept.get(kind, 0) + n
    if lines or not parts_rejected:
        fs.attempted += 1
        fs.succeeded += 1
    for rtype, rid, line in lines:
        if fhir.write_line(rtype, rid, line) == REPLACED:
            _superseded(fs, ctx, rtype, rid)
    if parts_rejected:  # claims rejected alone: a record each; the unit is not wholly converted
        rejected = getattr(source, "rejected", None)
        if rejected is not None:
            rejected(unit.record)
        for err in parts_rejected:
            _reject(errors, fs, err.at(unit.location), ctx)
    found = ctx.take_warnings_quoted()
    if found:
        fs.warnings += len(found)
        warnings.write(_warning_record(unit, fs.name, found, ctx))
    return [rtype for rtype, _, _ in lines]


def _superseded(fs: FileSummary, ctx: MappingContext, rtype: str, rid: str | None) -> None:
    """A resource replaced another version of itself written earlier in the run: the last one is
    kept, so the earlier content is gone from the output. Counted per type and, unless strictness
    is ``ignore``, a warning of this unit naming the id (ids are keyed hashes, not PHI)."""
    fs.superseded[rtype] = fs.superseded.get(rtype, 0) + 1
    if ctx.strictness is not Strictness.IGNORE:
        ctx.warnings.append(f"{rtype}/{rid}: replaces a version with other content written earlier in "
                            "this run (same business key); the later one is kept")


def _internal(exc: Exception, doing: str, file: str) -> InternalError:
    """The error record's exception for a fault of fhirflow's own, logged (type and code line only)."""
    err = InternalError.from_exception(exc, doing)
    log.error("internal error in %s: %s", file, err.message)
    return err


def _reject_mapped(unit: Unit[Any], source: Any, fs: FileSummary, exc: InputError, ctx: MappingContext,
                   errors: NdjsonSink) -> None:
    """A unit that was read but failed to map: its error record, and the source is told."""
    ctx.take_warnings()
    ctx.take_rejections()  # claims rejected before the whole unit was: the unit's record covers them
    rejected = getattr(source, "rejected", None)
    if rejected is not None:
        rejected(unit.record)
    _reject(errors, fs, _quoting(exc, unit).at(unit.location), ctx)


def _named(loc: Location | None, name: str) -> Location:
    """``loc`` naming the input as the run names it (relative to its input folder): readers know
    only the file they opened, and two ``msg.hl7`` in two folders must not look alike."""
    return Location(name, loc.where, loc.expression) if loc else Location(name)


def _reject(sink: NdjsonSink, fs: FileSummary, exc: InputError, ctx: MappingContext) -> None:
    exc.location = _named(exc.location, fs.name)
    fs.attempted += 1
    fs.rejected += 1
    sink.write(to_fhir_operation_outcome(exc, ctx))
    log.warning("rejected a unit of %s: %s", fs.name, exc.code)


def _quoting(exc: InputError, unit: Unit[Any]) -> InputError:
    """``exc`` with the source values that identify its unit (MSH-10) in its excerpt."""
    for path, value in unit.quoted.items():
        exc.quoted.setdefault(path, value)
    return exc


def _warning_record(unit: Unit[Any], name: str, warnings: list[tuple[str, dict[str, str]]],
                    ctx: MappingContext) -> dict[str, Any]:
    """The warnings record of a converted unit of input ``name``: one issue per warning, each with
    its source values (and the first with those of the unit) in its excerpt, none in its text."""
    record = to_fhir_operation_outcome(
        InputError("converted with warnings", _named(unit.location, name), code="informational"), ctx
    )
    record["issue"] = [issue("warning", "informational", w, quoted={**unit.quoted, **q} if i == 0 else q)
                       for i, (w, q) in enumerate(warnings)]
    return record
