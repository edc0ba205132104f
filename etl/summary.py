"""Per-run and per-file counts: what was attempted, converted, rejected, skipped, and written.

Counts only, never content: summaries go to logs, XCom and the manifest, where PHI must not go.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FileSummary:
    """Counts for one input file. ``name`` is its path relative to the input folder named (the file
    name when the file itself was named; see :mod:`etl.sources.inputs`): input names are not PHI by
    contract.

    A unit is a message, document, file or X12 transaction set (part). ``rejected`` counts error
    records: a whole unit, or one claim rejected from a unit whose other claims converted (an X12
    claim, payment or member, see :mod:`etl.sources.x12.claims`); such a unit also counts once in
    ``succeeded`` when it gave any resource. So ``attempted == succeeded + rejected``, and a file with
    one rejected claim is not :attr:`clean` (exit status 3, quarantined by the DAG).
    """

    name: str
    format: str = ""
    attempted: int = 0
    succeeded: int = 0
    rejected: int = 0
    skipped: int = 0
    warnings: int = 0
    notes: list[str] = field(default_factory=list)
    # what was skipped on purpose, one dict per skipped interchange (file, ISA13, who loaded it, when)
    skips: list[dict[str, str]] = field(default_factory=list)
    # resources of this file that replaced a version with other content written earlier in the run
    # (same id: a claim's replacement, a reused CLM01, a payer sent with and without its address),
    # per type; each is also a warning naming the id
    superseded: dict[str, int] = field(default_factory=dict)
    # source content carried into the output without a FHIR element of its own, per kind (HL7 v2
    # Z-segments, kept raw as extensions): counted so that it is visible, never silently dropped
    kept: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when every unit converted (nothing rejected)."""
        return self.rejected == 0

    @property
    def only_skipped(self) -> bool:
        """True when the file held nothing new: every unit was skipped (a re-sent file)."""
        return self.skipped > 0 and self.attempted == 0


@dataclass
class RunSummary:
    """Counts for a whole conversion run. ``entries_skipped``: entries of input folders not read,
    per reason (hidden, dangling symlink, ...: see :mod:`etl.sources.inputs`)."""

    files: list[FileSummary] = field(default_factory=list)
    resources: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    entries_skipped: Counter[str] = field(default_factory=Counter)

    @property
    def attempted(self) -> int:
        return sum(f.attempted for f in self.files)

    @property
    def succeeded(self) -> int:
        return sum(f.succeeded for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(f.warnings for f in self.files)

    @property
    def superseded(self) -> Counter[str]:
        """Per type, resources that replaced an earlier version written in this run."""
        out: Counter[str] = Counter()
        for f in self.files:
            out.update(f.superseded)
        return out

    @property
    def kept(self) -> Counter[str]:
        """Per kind, source content kept raw in an extension (HL7 v2 Z-segments)."""
        out: Counter[str] = Counter()
        for f in self.files:
            out.update(f.kept)
        return out

    @property
    def skips(self) -> list[dict[str, str]]:
        """Every skipped interchange of the run (the manifest and XCom list them)."""
        return [s for f in self.files for s in f.skips]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (the ``summary`` block of the manifest, the XCom of a DAG task)."""
        return {
            "attempted": self.attempted,
            "succeeded": self.succeeded,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "resources": dict(sorted(self.resources.items())),
            "superseded": dict(sorted(self.superseded.items())),
            "kept": dict(sorted(self.kept.items())),
            "skips": self.skips,
            "entries_skipped": dict(sorted(self.entries_skipped.items())),
            "files": [asdict(f) for f in self.files],
        }

    def render(self) -> str:
        """A short human table: units per file, resources per type."""
        lines = [f"units: {self.attempted} attempted, {self.succeeded} converted, "
                 f"{self.rejected} rejected, {self.skipped} skipped, {self.warnings} warnings"]
        for f in self.files:
            flag = "" if f.clean else "  <- rejected units, see errors/"
            lines.append(f"  {f.name} [{f.format}]: {f.succeeded}/{f.attempted} converted"
                         f"{', ' + str(f.skipped) + ' skipped' if f.skipped else ''}{flag}")
            lines += [f"    note: {n}" for n in f.notes]
        if self.kept:
            lines.append("  kept raw as extensions: " + ", ".join(f"{n} {k}" for k, n in sorted(self.kept.items())))
        if self.entries_skipped:
            said = ", ".join(f"{n} {why}" for why, n in sorted(self.entries_skipped.items()))
            lines.append(f"  not read (entries of the input folders): {said}")
        lines.append("resources:")
        width = max((len(t) for t in self.resources), default=10)
        replaced = self.superseded
        lines += [f"  {t:<{width}} {n:>9}" + (f"  ({replaced[t]} replaced an earlier version in this run)"
                                              if replaced.get(t) else "")
                  for t, n in sorted(self.resources.items())]
        lines.append(f"  {'errors':<{width}} {self.errors:>9}")
        return "\n".join(lines)
