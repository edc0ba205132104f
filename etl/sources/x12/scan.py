"""A first, cheap pass over an X12 file: each interchange's identity, digest and envelope counts.

The reader (:mod:`etl.sources.x12.envelope`) streams transaction sets and hands each to the mappers
as soon as its SE is read, so two facts it needs are known only too late, at the interchange's end:

- whether the interchange was already loaded: the ledger keys an interchange by its control
  numbers **and** a SHA-256 of its bytes (:mod:`etl.state.interchanges`), and the bytes run to IEA;
- whether GE01 (transaction sets in a group) and IEA01 (groups in an interchange) agree with what
  the file holds: a count that disagrees rejects every set it counts (ASC X12.6 5010, GE01/IEA01),
  and those sets must not have been converted first.

This pass splits segments only (no loops, no mapping), so it costs a fraction of the conversion.
The digest covers ISA through IEA, one segment at a time as the tokenizer gives it (the terminator
and any line breaks or padding around segments normalised away), so a re-send with other line
breaks is the same interchange, and one whole character changed is another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from etl.sources.x12.tokenize import SegmentReader


@dataclass
class InterchangeScan:
    """What the first pass learned of one interchange (the ``ordinal``-th ISA of the file, from 0)."""

    ordinal: int
    isa05: str
    isa06: str
    isa07: str
    isa08: str
    isa13: str
    stamp: str  # ISA09 ISA10
    digest: str = ""
    complete: bool = False  # an IEA closed it
    # GE01 that disagrees with the sets found, by group ordinal in the interchange (from 1):
    # (GE01 as sent, sets found)
    group_counts: dict[int, tuple[str, int]] = field(default_factory=dict)
    # IEA01 as sent and the groups found, when they disagree
    iea_count: tuple[str, int] | None = None


def _el(e: list[str], i: int) -> str:
    return e[i].strip() if i < len(e) else ""


def scan_interchanges(path: Path) -> list[InterchangeScan]:
    """One :class:`InterchangeScan` per ISA of ``path``, in file order."""
    out: list[InterchangeScan] = []
    with open(path, "rb") as fh:
        reader = SegmentReader(fh, path.name)
        cur: InterchangeScan | None = None
        digest = hashlib.sha256()
        sep = st = gs = ge = iea = ""
        groups = sets = 0
        in_group = False
        for _offset, text in reader:
            delims = reader.delimiters
            if delims is None:
                continue
            if text.startswith("ISA"):
                if cur is not None:
                    cur.digest = digest.hexdigest()
                sep = delims.element
                st, gs, ge, iea = "ST" + sep, "GS" + sep, "GE" + sep, "IEA" + sep
                e = text.split(sep)
                cur = InterchangeScan(len(out), _el(e, 5), _el(e, 6), _el(e, 7), _el(e, 8), _el(e, 13),
                                      f"{_el(e, 9)} {_el(e, 10)}".strip())
                out.append(cur)
                digest = hashlib.sha256()
                groups = sets = 0
                in_group = False
            if cur is None:
                continue
            digest.update(text.encode("utf-8", "surrogateescape"))
            digest.update(b"\n")
            head = text[:3]
            if head == st and in_group:
                sets += 1
            elif head == gs:
                groups += 1
                sets = 0
                in_group = True
            elif head == ge:
                declared = _el(text.split(sep), 1)
                if declared != str(sets):
                    cur.group_counts[groups] = (declared, sets)
                in_group = False
            elif text[:4] == iea:
                declared = _el(text.split(sep), 1)
                if declared != str(groups):
                    cur.iea_count = (declared, groups)
                cur.complete = True
                cur.digest = digest.hexdigest()
                cur = None
        if cur is not None:
            cur.digest = digest.hexdigest()
    return out
