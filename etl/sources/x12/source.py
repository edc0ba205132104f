"""X12 005010 837P/I/D, 835 and 834 as a :class:`etl.sources.base.Source`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.errors import InputError, Location, UnsupportedError
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.x12.envelope import read_transactions
from etl.sources.x12.ledger import Ledger, is_resend, locked
from etl.sources.x12.model import Transaction
from etl.sources.x12.to_fhir_834 import to_fhir_834
from etl.sources.x12.to_fhir_835 import to_fhir_835
from etl.sources.x12.to_fhir_837 import to_fhir_837


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

    Ledger (re-sent interchanges): ``config.x12_ledger`` names the ledger file; ``config.x12_reprocess``
    converts already-loaded interchanges again. The interchanges read in a run are recorded by
    :meth:`finish`, after the output is published. One object serves one run (the pipeline makes it
    with :func:`etl.sources.registry.new_source`): it remembers what the run read.
    """

    name = "x12"

    def __init__(self) -> None:
        # interchanges read in this run: (ISA06, ISA13) -> (file, clean, ISA09/ISA10 stamp)
        self._pending: dict[tuple[str, str], tuple[str, bool, str]] = {}
        # interchanges with a transaction set that failed to map (read to IEA before it mapped)
        self._dirty: set[tuple[str, str]] = set()

    def sniff(self, head: bytes) -> bool:
        body = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
        return body[:3] == b"ISA" and len(body) > 3 and not body[3:4].isalnum()

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Transaction]]:
        ledger_path, reprocess, pending = config.x12_ledger, config.x12_reprocess, self._pending
        ledger = None
        if ledger_path is not None:
            try:
                ledger = Ledger(Path(ledger_path))
            except ValueError as exc:
                yield Unit(location=Location(path.name), error=UnsupportedError(str(exc), Location(path.name)))
                return

        reused: dict[tuple[str, str], str] = {}  # interchanges that reuse a known ISA13: the warning

        def seen(sender: str, control: str, stamp: str) -> str | None:
            if reprocess or ledger is None:
                return None
            if (sender, control) in pending:
                first_file, _, first_stamp = pending[(sender, control)]
                if is_resend(first_stamp, stamp):
                    return f"interchange ISA06={sender} ISA13={control} was already read in this run; skipped"
                reused[(sender, control)] = (
                    f"ISA13={control} of sender ISA06={sender} was already used in this run by another interchange "
                    f"(ISA09/ISA10 {first_stamp}, file {first_file}); converted as a new interchange")
                return None
            entry = ledger.seen(sender, control) if ledger is not None else None
            if entry is None or (config.run_id is not None and entry.get("run") == config.run_id):
                return None  # new, or a re-run of the run that loaded it (same output): convert again
            if not is_resend(entry.get("stamp"), stamp):
                reused[(sender, control)] = (
                    f"ISA13={control} of sender ISA06={sender} was already loaded from another interchange "
                    f"(ISA09/ISA10 {entry.get('stamp')}, file {entry.get('file')}, on {entry.get('loaded')}); "
                    f"this one (ISA09/ISA10 {stamp}) is new and was converted: ask the sender to keep ISA13 unique")
                return None
            return (f"interchange ISA06={sender} ISA13={control} already loaded on {entry.get('loaded')}"
                    f" (file {entry.get('file')}); skipped")

        def done(sender: str, control: str, stamp: str, clean: bool) -> None:
            pending[(sender, control)] = (path.name, clean, stamp)

        read_any = False  # a unit converted or rejected (not only skipped as already loaded)
        for unit in read_transactions(path, seen, done):
            if unit.record is not None:
                warning = reused.pop((unit.record.env.sender, unit.record.env.isa13), None)
                if warning:  # said once, on the interchange's first transaction set
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

    def to_fhir(self, record: Transaction, ctx: MappingContext, config: JobConfig) -> Iterator[dict[str, Any]]:
        """The resources of one transaction set, as they are mapped (a generator: a rejection can
        come after some were yielded, so the pipeline keeps them until the set is done)."""
        try:
            yield from to_fhir(record, ctx)
        except InputError as exc:
            exc.at(record.env.location())
            raise

    def rejected(self, record: Transaction) -> None:
        """A transaction set failed to map (bad data or a fhirflow bug): its interchange is not
        recorded as loaded, so sending it again converts it. (The interchange was read to its IEA
        before its last set mapped: the envelope alone cannot tell.)"""
        self._dirty.add((record.env.sender, record.env.isa13))

    def finish(self, config: JobConfig, out_dir: Path) -> None:
        pending, dirty = self._pending, self._dirty
        self._pending, self._dirty = {}, set()
        ledger_path = config.x12_ledger
        if ledger_path is None or not pending:
            return
        when = config.transaction_time or datetime.now(UTC).isoformat(timespec="seconds")
        with locked(Path(ledger_path)) as ledger:
            for (sender, control), (file, clean, stamp) in pending.items():
                if clean and (sender, control) not in dirty:
                    ledger.add(sender, control, file, when, config.run_id, stamp)
