"""The interchange ledger: which X12 interchanges (sender ISA06 + control number ISA13) were loaded.

A re-sent interchange (same ISA06 and ISA13, and the same ISA09/ISA10 date and time) is skipped on
later runs, so a payer re-running a landing folder never converts the same claims twice. A sender
that reuses a control number for a *new* interchange (another ISA09/ISA10) is not skipped: its
claims convert (with a warning that names both interchanges), because skipping it would lose them.
The ledger is a small JSON file kept beside the output (``JobConfig.x12_ledger``, e.g. ``OUT/../.fhirflow-x12-ledger.json``); it is written
atomically after the run's output is published, and an interchange is recorded only if every
transaction set of it converted and its envelope was complete (a partly rejected interchange is
converted again when re-sent; its claims upsert onto the same ids).

Force re-processing: delete the entry (``python -m etl.sources.x12.ledger forget LEDGER ISA06
ISA13``, or ``--all``), or run with ``JobConfig.x12_reprocess = True``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VERSION = 1


def _key(sender: str, control: str) -> str:
    return f"{sender.strip()}|{control.strip()}"


class Ledger:
    """Loaded interchanges, keyed by ``ISA06|ISA13``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                self.entries = dict(doc.get("interchanges", {}))
            except (OSError, ValueError, AttributeError) as exc:
                raise ValueError(f"the X12 ledger {path} is not readable JSON ({exc}); fix or delete it") from exc

    def seen(self, sender: str, control: str) -> dict[str, Any] | None:
        return self.entries.get(_key(sender, control))

    def add(self, sender: str, control: str, file: str, when: str, run: str | None = None, stamp: str = "") -> None:
        """Record an interchange; ``stamp`` is its ISA09/ISA10 date and time (see :func:`is_resend`)."""
        self.entries[_key(sender, control)] = {"sender": sender.strip(), "control": control.strip(),
                                               "stamp": stamp, "file": file, "loaded": when, "run": run}

    def forget(self, sender: str, control: str) -> bool:
        return self.entries.pop(_key(sender, control), None) is not None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".x12-ledger-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": VERSION, "interchanges": self.entries}, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


def is_resend(known: str | None, stamp: str) -> bool:
    """True when an interchange with a known ISA06/ISA13 is the same one again: same ISA09/ISA10
    ``stamp`` as the ``known`` one (ledger entries written before stamps were kept count as the same)."""
    return not known or not stamp or known == stamp


@contextlib.contextmanager
def locked(path: Path) -> Iterator[Ledger]:
    """The ledger at ``path``, read and saved under an exclusive lock: parallel batches (mapped
    Airflow tasks) each add their interchanges without losing the others'."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ledger = Ledger(path)
        yield ledger
        ledger.save()


def main(argv: list[str] | None = None) -> int:
    """``forget LEDGER ISA06 ISA13`` / ``forget LEDGER --all`` / ``list LEDGER``."""
    ap = argparse.ArgumentParser(prog="python -m etl.sources.x12.ledger")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("forget", help="let an interchange be converted again")
    f.add_argument("ledger", type=Path)
    f.add_argument("sender", nargs="?")
    f.add_argument("control", nargs="?")
    f.add_argument("--all", action="store_true")
    ls = sub.add_parser("list")
    ls.add_argument("ledger", type=Path)
    args = ap.parse_args(argv)
    led = Ledger(args.ledger)
    if args.cmd == "list":
        for entry in led.entries.values():
            print(f"{entry['sender']}\t{entry['control']}\t{entry['loaded']}\t{entry['file']}")  # noqa: T201
        return 0
    if args.all:
        led.entries.clear()
    elif not (args.sender and args.control) or not led.forget(args.sender, args.control):
        print("no such interchange in the ledger")  # noqa: T201
        return 1
    led.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
