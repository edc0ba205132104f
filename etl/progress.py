"""How a conversion shows its progress: a reporter the pipeline is handed, never a global.

The pipeline only tells a :class:`Reporter` what happened (cheap calls, no drawing); the reporter
decides when and how to show it:

- :class:`RichReporter` (a terminal): a rich bar per phase, redrawn by a ticker thread four times a
  second whatever the unit size: reading (bytes of the current file, units read), mapping
  (resources and claims or messages per second, ETA from the bytes read of all inputs), Parquet
  (NDJSON parts converted), publish;
- :class:`LineReporter` (no terminal: a log file, Airflow, CI): one plain line every 10 seconds.

Between two units (an X12 transaction set of 5,000 claims takes seconds) the bytes read come from
the operating system: the read position of the descriptor the reader holds open on the current
file (Linux ``/proc/self/fdinfo``; elsewhere the bar moves per unit). What is shown are counts,
file names (not PHI by contract: see :class:`etl.summary.FileSummary`), sizes and rates.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

Clock = Callable[[], float]
Probe = Callable[[Path], int | None]  # the read position in a file this process has open

# What one unit is called, per format; X12 counts claims (837 Claim, 835 ExplanationOfBenefit).
UNIT_NAMES = {"x12": "transaction sets", "hl7v2": "messages", "ccda": "documents"}
CLAIM_TYPES = frozenset({"Claim", "ExplanationOfBenefit"})


class Reporter(Protocol):
    """What the pipeline tells about a run (see :func:`etl.pipeline.convert`)."""

    def start(self, files: Sequence[Path]) -> None:
        """The run's input files, before the first is read."""

    def file(self, index: int, path: Path, fmt: str) -> None:
        """Reading ``files[index]`` now, a file of format ``fmt``."""

    def unit(self, resource_types: Sequence[str]) -> None:
        """One unit is done (converted, rejected or skipped) with these resources."""

    def phase(self, name: str, total: int) -> None:
        """A later phase begins (``parquet``: ``total`` NDJSON parts; ``publish``: 1 step)."""

    def step(self) -> None:
        """One step of the current phase is done."""

    def close(self) -> None:
        """The run is over (or failed): stop drawing."""


def fd_position(path: Path) -> int | None:
    """The read offset of a descriptor this process has open on ``path`` (Linux), else None."""
    try:
        target = os.path.realpath(path)
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != target:
                    continue
                with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as info:
                    for line in info:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
            except (OSError, ValueError):
                continue
    except OSError:
        pass
    return None


@dataclass
class Counts:
    """The run so far, as the reporters show it."""

    sizes: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    index: int = -1
    fmt: str = ""
    done_bytes: int = 0  # of the files before the current one
    position: int = 0  # in the current file
    units: int = 0
    resources: int = 0
    claims: int = 0
    phase: str = "read"
    phase_total: int = 0
    phase_done: int = 0
    started: float = 0.0

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)

    @property
    def read_bytes(self) -> int:
        return self.done_bytes + self.position

    def rates(self, now: float) -> dict[str, float]:
        """Per second since the start: resources, claims, units, bytes."""
        elapsed = max(now - self.started, 1e-9)
        return {k: v / elapsed for k, v in (("resources", self.resources), ("claims", self.claims),
                                            ("units", self.units), ("bytes", self.read_bytes))}

    def unit_name(self) -> str:
        return UNIT_NAMES.get(self.fmt, "units")


class _Ticking:
    """The shared part of both reporters: counts, and a ticker thread that calls :meth:`tick`."""

    def __init__(self, clock: Clock, probe: Probe, interval: float, thread: bool) -> None:
        self.clock = clock
        self.probe = probe
        self.counts = Counts()
        self._path: Path | None = None
        self._lock = threading.Lock()  # the ticker thread and the pipeline's phase() both draw
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fhirflow-progress", daemon=True) if thread else None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.tick()

    def start(self, files: Sequence[Path]) -> None:
        c = self.counts
        c.names = [p.name for p in files]
        c.sizes = []
        for p in files:
            try:
                c.sizes.append(p.stat().st_size)
            except OSError:
                c.sizes.append(0)
        c.started = self.clock()
        self.begin()
        if self._thread is not None:
            self._thread.start()

    def file(self, index: int, path: Path, fmt: str) -> None:
        c = self.counts
        if 0 <= c.index < len(c.sizes):
            c.done_bytes += c.sizes[c.index]
        c.index, c.fmt, c.position = index, fmt, 0
        self._path = path

    def unit(self, resource_types: Sequence[str]) -> None:
        c = self.counts
        c.units += 1
        c.resources += len(resource_types)
        c.claims += sum(1 for t in resource_types if t in CLAIM_TYPES)

    def phase(self, name: str, total: int) -> None:
        c = self.counts
        if c.phase == "read" and 0 <= c.index < len(c.sizes):
            c.done_bytes, c.index, c.position = c.total_bytes, len(c.sizes), 0
        c.phase, c.phase_total, c.phase_done = name, total, 0
        self.tick()

    def step(self) -> None:
        self.counts.phase_done += 1

    def tick(self) -> None:
        """Read the current file's position and show the counts (the ticker thread calls this)."""
        c = self.counts
        with self._lock:
            if c.phase == "read" and self._path is not None and 0 <= c.index < len(c.sizes):
                pos = self.probe(self._path)
                if pos is not None:
                    c.position = min(max(pos, c.position), c.sizes[c.index])
            self.show()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self.end()

    # what a reporter draws
    def begin(self) -> None: ...
    def show(self) -> None: ...
    def end(self) -> None: ...


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"


class LineReporter(_Ticking):
    """One line every ``every`` seconds on ``stream`` (stderr without a terminal)."""

    def __init__(self, stream: IO[str], *, every: float = 10.0, clock: Clock = time.monotonic,
                 probe: Probe = fd_position, thread: bool = True) -> None:
        super().__init__(clock, probe, 1.0, thread)
        self.stream = stream
        self.every = every
        self._last = 0.0

    def begin(self) -> None:
        self._last = self.counts.started

    def show(self) -> None:
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def line(self, now: float) -> str:
        c = self.counts
        r = c.rates(now)
        elapsed = now - c.started
        if c.phase != "read":
            return (f"fhirflow: {c.phase}: {c.phase_done}/{c.phase_total} done; {c.resources} resources; "
                    f"elapsed {elapsed:.0f} s")
        name = c.names[c.index] if 0 <= c.index < len(c.names) else ""
        size = c.sizes[c.index] if 0 <= c.index < len(c.sizes) else 0
        share = f"{100 * c.position / size:.0f}%" if size else "?"
        claims = f", {r['claims']:.0f} claims/s" if c.claims else ""
        left = ""
        if c.read_bytes and c.total_bytes > c.read_bytes:
            left = f", about {elapsed * (c.total_bytes - c.read_bytes) / c.read_bytes:.0f} s left"
        return (f"fhirflow: reading file {c.index + 1}/{len(c.names)} {name} ({share} of {_mib(size)}); "
                f"{c.units} {c.unit_name()}, {c.resources} resources ({r['resources']:.0f} resources/s, "
                f"{r['units']:.1f} {c.unit_name()}/s{claims}); elapsed {elapsed:.0f} s{left}")


class RichReporter(_Ticking):
    """rich progress bars on a terminal, one per phase, redrawn every ``interval`` seconds."""

    def __init__(self, console: Any = None, *, clock: Clock = time.monotonic, probe: Probe = fd_position,
                 interval: float = 0.25, thread: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__(clock, probe, interval, thread)
        self.bars = Progress(
            TextColumn("{task.description:<9}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[what]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console or Console(stderr=True), get_time=clock, auto_refresh=False, transient=False,
            expand=False)
        self._tasks: dict[str, Any] = {}

    def begin(self) -> None:
        self.bars.start()
        c = self.counts
        self._tasks["read"] = self.bars.add_task("reading", total=None, what="")
        self._tasks["map"] = self.bars.add_task("mapping", total=c.total_bytes or None, what="")

    def show(self) -> None:
        c = self.counts
        now = self.clock()
        r = c.rates(now)
        if c.phase == "read" and 0 <= c.index < len(c.sizes):
            size = c.sizes[c.index]
            self.bars.update(self._tasks["read"], total=size or None, completed=c.position,
                             what=f"{c.names[c.index][:30]} ({c.index + 1}/{len(c.sizes)}) "
                                  f"{_mib(c.position)}/{_mib(size)}, {c.units} {c.unit_name()}")
        claims = f", {r['claims']:.0f} claims/s" if c.claims else f", {r['units']:.1f} {c.unit_name()}/s"
        self.bars.update(self._tasks["map"], completed=c.read_bytes,
                         what=f"{c.resources} resources, {r['resources']:.0f}/s{claims}")
        if c.phase != "read":
            if c.phase not in self._tasks:  # reading and mapping are over
                size = c.sizes[-1] if c.sizes else 0
                self.bars.update(self._tasks["read"], total=size or 1, completed=size or 1,
                                 what=f"{len(c.sizes)} file(s), {_mib(c.total_bytes)}, {c.units} units")
                self.bars.update(self._tasks["map"], total=c.total_bytes or 1, completed=c.total_bytes or 1)
                self._tasks[c.phase] = self.bars.add_task(c.phase, total=c.phase_total or None, what="")
            self.bars.update(self._tasks[c.phase], completed=c.phase_done,
                             what=f"{c.phase_done}/{c.phase_total} " + ("parts" if c.phase == "parquet" else "steps"))
        self.bars.refresh()

    def end(self) -> None:
        if self._tasks:
            self.show()
        self.bars.stop()
