"""A first, cheap pass over an X12 file: each interchange's identity, digest and envelope counts.

The reader (:mod:`etl.sources.x12.envelope`) streams transaction sets and hands each to the mappers
as soon as its SE is read, so two facts it needs are known only too late, at the interchange's end:

- whether the interchange was already loaded: the ledger keys an interchange by its control
  numbers **and** a SHA-256 of its bytes (:mod:`etl.state.interchanges`), and the bytes run to IEA;
- whether GE01 (transaction sets in a group) and IEA01 (groups in an interchange) agree with what
  the file holds: a count that disagrees rejects every set it counts (ASC X12.6 5010, GE01/IEA01),
  and those sets must not have been converted first.

It must cost a fraction of the conversion, so it does not split segments: it searches the raw
bytes for the envelope segments only (a regular expression per interchange's delimiters) and hashes
the bytes between them. The digest covers ISA through IEA's terminator with every CR and LF removed
(line breaks normalised: a re-send with other line breaks is the same interchange, one character
changed is another). A file this cannot read that way (bytes before the first ISA, a broken ISA, an
interchange whose segment terminator *is* a line break) is scanned segment by segment through the
tokenizer instead, its digest then taken over the segments as the tokenizer gives them; a file
always takes the same way, so its digest is stable.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from etl.errors import EnvelopeError
from etl.sources.encoding import open_utf8
from etl.sources.x12.tokenize import CHUNK, SegmentReader, isa_delimiters

_CRLF = b"\r\n"
_MARGIN = 512  # bytes kept beyond a search: an ISA is 106, other envelope segments are short


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
    with open_utf8(path) as fh:
        fast = _scan_bytes(fh)
    return fast if fast is not None else _scan_segments(path)


def _pattern(term: bytes, sep: bytes) -> re.Pattern[bytes]:
    # A segment start (after a terminator and any padding) of ISA (whatever its separator: it sets
    # its own) or of IEA, GS, GE, ST with this interchange's element separator.
    return re.compile(re.escape(term) + rb"[ \t]*(?:(ISA)[^A-Za-z0-9]|(IEA|GS|GE|ST)" + re.escape(sep) + rb")")


def _scan_bytes(fh: IO[bytes]) -> list[InterchangeScan] | None:
    """The fast way (module doc), or None when the file needs the segment-by-segment one."""
    out: list[InterchangeScan] = []
    buf = fh.read(CHUNK).removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not buf.startswith(b"ISA"):
        return None
    buf = buf.replace(b"\r", b"").replace(b"\n", b"")
    eof = False
    pos = hashed = 0  # next byte to search; bytes of buf before ``hashed`` are in the digest
    cur: InterchangeScan | None = None
    digest = hashlib.sha256()
    pat: re.Pattern[bytes] | None = None
    term = sep = b""
    groups = sets = 0
    in_group = False
    isa_at: int | None = 0
    while True:
        if not eof and len(buf) - pos < CHUNK // 2:
            more = fh.read(CHUNK)
            eof = not more
            if cur is not None:
                digest.update(buf[hashed:pos])
            buf = buf[pos:] + more.replace(b"\r", b"").replace(b"\n", b"")
            if isa_at is not None:
                isa_at -= pos
            pos = hashed = 0
            continue
        if isa_at is not None:  # an interchange starts here
            if cur is not None:
                digest.update(buf[hashed:isa_at])
                cur.digest = digest.hexdigest()
            try:
                delims, _length, _problem = isa_delimiters(buf[isa_at:isa_at + _MARGIN])
            except EnvelopeError:
                return None
            term, sep = delims.segment.encode("latin-1"), delims.element.encode("latin-1")
            if term in _CRLF:
                return None
            e = buf[isa_at:isa_at + 106].decode("latin-1").split(delims.element)
            cur = InterchangeScan(len(out), _el(e, 5), _el(e, 6), _el(e, 7), _el(e, 8), _el(e, 13),
                                  f"{_el(e, 9)} {_el(e, 10)}".strip())
            out.append(cur)
            digest = hashlib.sha256()
            pat = _pattern(term, sep)
            hashed, pos, isa_at = isa_at, isa_at + 3, None
            groups = sets = 0
            in_group = False
        assert pat is not None
        limit = len(buf) if eof else len(buf) - _MARGIN
        m = pat.search(buf, pos)
        if m is None or m.start() >= limit:
            if eof:
                break
            pos = max(pos, limit)
            continue
        start = m.end(0) - (4 if m.group(1) else len(m.group(2)) + 1)  # the segment id's first byte
        if m.group(1):
            isa_at = start
            continue
        sid = m.group(2)
        end = buf.find(term, m.end())
        if end < 0:
            end = len(buf)
        stop = buf.find(sep, m.end(), end)
        first = buf[m.end():stop if stop >= 0 else end].strip().decode("latin-1")
        pos = end
        if sid == b"ST":
            if in_group:
                sets += 1
        elif sid == b"GS":
            groups += 1
            sets = 0
            in_group = True
        elif sid == b"GE":
            if first != str(sets):
                assert cur is not None
                cur.group_counts[groups] = (first, sets)
            in_group = False
        elif sid == b"IEA" and cur is not None:
            if first != str(groups):
                cur.iea_count = (first, groups)
            digest.update(buf[hashed:end + 1])
            cur.digest, cur.complete = digest.hexdigest(), True
            cur, hashed = None, end + 1
    if cur is not None:
        digest.update(buf[hashed:])
        cur.digest = digest.hexdigest()
    return out


def _scan_segments(path: Path) -> list[InterchangeScan]:
    """The segment-by-segment way, for the files :func:`_scan_bytes` leaves (module doc)."""
    out: list[InterchangeScan] = []
    with open_utf8(path) as fh:
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
