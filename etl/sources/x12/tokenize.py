"""Stream the segments of an X12 file, reading delimiters from each ISA.

ASC X12.5 / X12.6 (interchange control structure): the ISA segment has a fixed width of 106
characters. Its 4th character is the element separator, ISA11 the repetition separator (5010 and
later), ISA16 the component separator, and the character after ISA16 the segment terminator. Each
interchange (ISA … IEA) of a file may use its own delimiters. Line breaks after the terminator (or a
line break used *as* terminator) are accepted. The file is read in 1 MiB chunks; memory holds one
chunk plus one segment whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from etl.errors import EnvelopeError, Location

CHUNK = 1 << 20
_WS = b" \t\r\n"
# ISA01 … ISA16 widths (X12.5 5010 interchange control header; the same widths since 4010).
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106  # "ISA" + 16 separators + the widths above + the segment terminator


@dataclass(frozen=True)
class Delimiters:
    """The four delimiters of one interchange."""

    element: str
    component: str
    segment: str
    repetition: str | None


def isa_delimiters(isa: bytes) -> tuple[Delimiters, int, EnvelopeError | None]:
    """Delimiters from the bytes of an ISA (starting at ``ISA``), the ISA's length including its
    terminator, and the width problem if the ISA is not the fixed 106 characters.

    Raises :class:`EnvelopeError` when no delimiters can be read at all (fewer than 16 elements).
    A width error (a short ISA02 padding is the classic case) is returned, not raised: the
    delimiters are still usable to find the end of the interchange.
    """
    if len(isa) < 4:
        raise EnvelopeError("the file ends inside the ISA segment", code="incomplete")
    sep = isa[3:4]
    if sep.isalnum() or sep in (b" ", b"\r", b"\n"):
        raise EnvelopeError(f"ISA element separator (4th character) {sep!r} is not a valid delimiter")
    parts = isa.split(sep, 16)
    if len(parts) < 17 or len(parts[16]) < 2:
        raise EnvelopeError("the ISA segment is incomplete: it must have 16 elements and end with the "
                            "segment terminator after ISA16", code="incomplete")
    component, terminator = parts[16][0:1], parts[16][1:2]
    if terminator.isalnum() or terminator == b" " or terminator in (sep, component):
        raise EnvelopeError(f"segment terminator after ISA16 ({terminator!r}) is not a valid delimiter")
    length = sum(len(p) for p in parts[:16]) + 16 + 2
    problem: EnvelopeError | None = None
    for i, width in enumerate(ISA_WIDTHS[:15], start=1):
        if len(parts[i]) != width:
            problem = EnvelopeError(
                f"ISA{i:02d} is {len(parts[i])} characters long; X12 requires exactly {width} "
                "(ISA fields are fixed width, padded with spaces), so the interchange header is not "
                "the 106 characters the standard requires; the interchange is rejected")
            problem.at_expression(f"ISA{i:02d}")
            break
    version = parts[12].decode("ascii", "replace")
    rep = parts[11].decode("ascii", "replace")
    repetition = rep if version >= "00501" and not rep.isalnum() and rep != " " else None
    delims = Delimiters(sep.decode("latin-1"), component.decode("latin-1"), terminator.decode("latin-1"), repetition)
    return delims, length, problem


def decode(raw: bytes) -> str:
    """Segment bytes as text: UTF-8 when valid (X12 extended character set), else Windows-1252."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class SegmentReader:
    """Iterate ``(file offset, segment text)`` over a binary file, terminator removed.

    ``delimiters`` is the delimiter set of the interchange the last yielded segment belongs to
    (updated at every ISA); ``isa_problem`` the width problem of that ISA, if any. When an ISA is
    so broken that no terminator can be known, ``fatal`` is set and iteration stops: nothing after
    it can be split into segments.
    """

    def __init__(self, fh: IO[bytes], name: str, start: int = 0, delimiters: Delimiters | None = None) -> None:
        self.fh = fh
        self.name = name
        self.start = start
        self.delimiters = delimiters
        self.isa_problem: EnvelopeError | None = None
        self.fatal: EnvelopeError | None = None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        fh = self.fh
        fh.seek(self.start)
        buf = fh.read(CHUNK)
        base = self.start
        pos = 0
        if self.start == 0 and buf.startswith(b"\xef\xbb\xbf"):
            pos = 3
        eof = False
        term = self.delimiters.segment.encode("latin-1") if self.delimiters else b"~"
        while True:
            n = len(buf)
            while pos < n and buf[pos] in _WS:  # line breaks after the terminator
                pos += 1
            if not eof and pos >= n - 512:
                more = fh.read(CHUNK)
                buf, base, pos = buf[pos:] + more, base + pos, 0
                if not more:
                    eof = True
                continue
            if pos >= n:
                return
            if not buf.startswith(b"ISA", pos):
                # Fast path: every whole segment up to the read-ahead margin in one go.
                limit = n if eof else n - 512
                last = buf.rfind(term, pos, limit)
                if last >= 0:
                    segments, isa = _batch(buf, pos, last, term, base)
                    yield from segments
                    pos = last + 1 if isa < 0 else isa  # an ISA is read below, as one segment
                    continue
            if buf.startswith(b"ISA", pos) and not buf[pos + 3:pos + 4].isalnum():
                try:
                    self.delimiters, length, self.isa_problem = isa_delimiters(buf[pos:pos + 512])
                except EnvelopeError as exc:
                    self.fatal = exc
                    exc.at(Location(self.name, f"interchange at byte {base + pos}", "ISA"))
                    return
                term = self.delimiters.segment.encode("latin-1")
                yield base + pos, buf[pos:pos + length - 1].decode("latin-1")
                pos += length
                continue
            end = buf.find(term, pos)
            while end < 0 and not eof:
                more = fh.read(CHUNK)
                if not more:
                    eof = True
                    break
                buf, base, pos = buf[pos:] + more, base + pos, 0
                end = buf.find(term, pos)
            if end < 0:
                seg = buf[pos:].strip(_WS)
                if seg:
                    yield base + pos, decode(seg)
                return
            seg = buf[pos:end].strip(_WS)
            if seg:
                yield base + pos, decode(seg)
            pos = end + 1


_WS_TEXT = _WS.decode("ascii")


def _batch(buf: bytes, pos: int, last: int, term: bytes, base: int) -> tuple[list[tuple[int, str]], int]:
    """The segments of ``buf[pos:last + 1]`` (which ends with a terminator) as ``SegmentReader``
    yields them one by one, and the position of the first ISA there (-1 when none): the segments
    stop before it, so that the reader takes its delimiters."""
    out: list[tuple[int, str]] = []
    region = buf[pos:last]
    start = pos
    if region.isascii() and term[0] < 0x80:  # the usual case: str pieces, byte offsets = str offsets
        for piece in region.decode("ascii").split(term.decode("ascii")):
            text = piece.lstrip(_WS_TEXT)
            at = start + len(piece) - len(text)
            start += len(piece) + 1
            text = text.rstrip(_WS_TEXT)
            if not text:
                continue
            if text.startswith("ISA") and not text[3:4].isalnum():
                return out, at
            out.append((base + at, text))
        return out, -1
    for raw in region.split(term):
        left = raw.lstrip(_WS)
        at = start + len(raw) - len(left)
        start += len(raw) + 1
        seg = left.rstrip(_WS)
        if not seg:
            continue
        if seg.startswith(b"ISA") and not seg[3:4].isalnum():
            return out, at
        out.append((base + at, decode(seg)))
    return out, -1
