"""X12 005010 837P/I/D, 835 and 834 as a :class:`etl.sources.base.Source`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from etl.config import JobConfig, Strictness
from etl.errors import InputError, Location, UnsupportedError
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.encoding import utf8_head
from etl.sources.x12.envelope import Verdict, read_transactions
from etl.sources.x12.model import Transaction
from etl.sources.x12.scan import InterchangeScan, scan_interchanges
from etl.sources.x12.to_fhir_834 import to_fhir_834
from etl.sources.x12.to_fhir_835 import to_fhir_835
from etl.sources.x12.to_fhir_837 import to_fhir_837
from etl.state.interchanges import Converted, InterchangeId
from etl.state.store import StateStore, now


def to_fhir(tx: Transaction, ctx: MappingContext) -> Iterable[dict[str, Any]]:
    """Dispatch one transaction set to its mapper."""
    if tx.kind.startswith("837"):
        return to_fhir_837(tx, ctx)
    if tx.kind == "835":
        return to_fhir_835(tx, ctx)
    if tx.kind == "834":
        return to_fhir_834(tx, ctx)
    raise UnsupportedError(f"no mapper for {tx.kind}", tx.env.location())


class X12Source:
    """ASC X12 5010 files: any number of interchanges, groups and transaction sets per file.

    Re-sent interchanges (the ledger, :mod:`etl.state.interchanges`): with a run-state database
    (``state``), an interchange already **loaded** with the same control numbers and the same bytes
    is skipped, visibly (a note per interchange in the summary, the manifest and XCom). The same
    control numbers with other bytes convert, with a warning naming both files, or are rejected
    under ``JobConfig.duplicate_control == "reject"`` (TA1 025, duplicate interchange control
    number). ``JobConfig.x12_reprocess`` converts everything. What a run converted is recorded by
    :meth:`finish`, after its output is published; only the load step marks it loaded. One object
    serves one run (:func:`etl.sources.registry.new_source`): it remembers what the run read.
    """

    name = "x12"
    stateful = True  # takes the run-state database (registry.new_source)

    def __init__(self, state: StateStore | None = None) -> None:
        self.state = state
        # interchanges read in this run, by control numbers: [(digest, file)]
        self._read: dict[InterchangeId, list[tuple[str, str]]] = {}
        # converted in this run, to record at finish: (key, digest) -> entry
        self._converted: dict[tuple[InterchangeId, str], Converted] = {}
        # interchanges with a rejected transaction set or claim: (file, ISA06, ISA13)
        self._dirty: set[tuple[str, str, str]] = set()

    def sniff(self, head: bytes) -> bool:
        body = utf8_head(head).lstrip(b" \t\r\n")
        return body[:3] == b"ISA" and len(body) > 3 and not body[3:4].isalnum()

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Transaction]]:
        scans = scan_interchanges(path)
        reused: dict[tuple[str, str], str] = {}  # (ISA06, ISA13) -> the warning, said on its first set

        def seen(ordinal: int) -> Verdict | None:
            if ordinal >= len(scans) or self.state is None:
                return None
            scan = scans[ordinal]
            verdict, warning = self._verdict(scan, path.name, config)
            if warning:
                reused[(scan.isa06, scan.isa13)] = warning
            return verdict

        def done(ordinal: int, clean: bool) -> None:
            if ordinal < len(scans) and self.state is not None:
                scan = scans[ordinal]
                key = _key(scan)
                self._converted[(key, scan.digest)] = Converted(key, scan.digest, scan.stamp, clean, path.name)

        read_any = False  # a unit converted or rejected (not only skipped as already loaded)
        # SE01 / GE01 / IEA01 that disagree: reject the sets, or (strictness ignore) warn
        units = read_transactions(path, seen, done, scans=scans,
                                  counts_reject=config.strictness is not Strictness.IGNORE)
        for unit in units:
            if unit.record is not None:
                warning = reused.pop((unit.record.env.sender, unit.record.env.isa13), None)
                if warning:
                    unit.warnings.append(warning)
            read_any = read_any or not unit.skip
            yield unit
            del unit  # not alive while the next transaction set is read
        if config.x12_validate and read_any:
            from etl.sources.x12.validate import file_versions, validate_file

            # from the file itself: rejected sets carry no record, and their versions count too
            err, warns = validate_file(path, file_versions(path))
            if err is not None:
                yield Unit(location=err.location or Location(path.name), error=err)
            elif warns:
                yield Unit(location=Location(path.name, "whole file"), skip=True, note=warns[0])

    def _verdict(self, scan: InterchangeScan, file: str, config: JobConfig) -> tuple[Verdict | None, str]:
        """The ledger's verdict on one interchange, and a warning to attach to its first set."""
        assert self.state is not None
        key = _key(scan)
        earlier = self._read.setdefault(key, [])
        if config.x12_reprocess:
            earlier.append((scan.digest, file))
            return None, ""
        for digest, first_file in earlier:
            if digest == scan.digest:
                return Verdict(skip=f"interchange {key} was already read in this run (file {first_file}, the "
                                    "same bytes); skipped", detail={"interchange": str(key), "file": file,
                                                                      "same_as_file": first_file}), ""
        rows = self.state.interchanges.matching(key)
        same = [r for r in rows if r.digest == scan.digest or (not r.digest and _legacy_same(r.stamp, scan.stamp))]
        loaded = next((r for r in same if r.loaded and r.run_id != config.run_id), None)
        if loaded is not None:
            return Verdict(
                skip=f"interchange {key} already loaded by run {loaded.run_id} on {loaded.loaded_at} "
                     f"(file {loaded.file}); skipped",
                detail={"interchange": str(key), "file": file, "loaded_by": loaded.run_id,
                        "loaded_at": loaded.loaded_at or "", "loaded_file": loaded.file}), ""
        others = [(r.file, r.state) for r in rows if r not in same]
        others += [(f, "read in this run") for d, f in earlier if d != scan.digest]
        earlier.append((scan.digest, file))
        if not others:
            return None, ""
        first_file, state = others[0]
        clash = (f"ISA13={scan.isa13} of sender ISA05/ISA06={scan.isa05}/{scan.isa06} to ISA07/ISA08="
                 f"{scan.isa07}/{scan.isa08} was already used by another interchange with different content "
                 f"(file {first_file}, {state})")
        if config.duplicate_control == "reject":
            return Verdict(reject=clash + "; rejected under --duplicate-control reject (TA1 025: duplicate "
                                          "interchange control number): ask the sender for a new ISA13"), ""
        return None, clash + f"; this one (file {file}) was converted as a new interchange: ask the sender to keep ISA13 unique"

    def to_fhir(self, record: Transaction, ctx: MappingContext, config: JobConfig) -> Iterator[dict[str, Any]]:
        """The resources of one transaction set, as they are mapped (a generator: a rejection can
        come after some were yielded, so the pipeline keeps them until the set is done)."""
        try:
            yield from to_fhir(record, ctx)
        except InputError as exc:
            exc.at(record.env.location())
            raise

    def rejected(self, record: Transaction) -> None:
        """A transaction set (or a claim of it) failed to map: its interchange is recorded as not
        complete, so it is never marked loaded and sending it again converts it. (The interchange
        was read to its IEA before its last set mapped: the envelope alone cannot tell.)"""
        self._dirty.add((record.env.file, record.env.sender, record.env.isa13))

    def finish(self, config: JobConfig, out_dir: Path) -> None:
        """Record what this run converted into ``out_dir`` (after it was published) as
        ``converted``; the load step marks it ``loaded`` once the server has it."""
        converted, dirty = self._converted, self._dirty
        self._converted, self._dirty = {}, set()
        if self.state is None or not converted:
            return
        when = config.transaction_time or now()
        entries = [replace(e, complete=e.complete and (e.file, e.key.isa06, e.key.isa13) not in dirty)
                   for e in converted.values()]
        self.state.interchanges.record_converted(entries, config.run_id or str(out_dir.resolve()),
                                                 str(out_dir.resolve()), when)


def _key(scan: InterchangeScan) -> InterchangeId:
    return InterchangeId(scan.isa05, scan.isa06, scan.isa07, scan.isa08, scan.isa13)


def _legacy_same(known: str, stamp: str) -> bool:
    """An entry of the old JSON ledger (no digest) is the same interchange when its ISA09/ISA10
    stamp is (entries without a stamp count as the same, as that ledger did)."""
    return not known or not stamp or known == stamp
