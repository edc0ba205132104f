"""Stream HL7 v2 files message by message.

Handles plain concatenated messages, batches (BHS … BTS) and files (FHS … FTS) as defined in
HL7 v2.5 §2.10.3, segment terminators CR, LF or CRLF, a byte-order mark (UTF-8, or UTF-16/32,
transcoded as it is read: :mod:`etl.sources.encoding`), MLLP framing bytes, and blank lines. Memory
stays at one message whatever the file size. Envelope problems (a BHS without BTS, BTS-1/FTS-1
counts that disagree) are reported as their own error units after the messages, which still
convert, except the one a truncated file ends in (see :func:`read_messages`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from etl.config import Strictness
from etl.errors import EnvelopeError, InputError, Location, ParseError
from etl.sources.base import Unit
from etl.sources.encoding import open_utf8
from etl.sources.hl7v2.model import Message

_SPLIT = re.compile(rb"\r\n|\r|\n")
_FRAMING = bytes([0x0B, 0x1C])  # MLLP start block / end block, sometimes left in saved files
CHUNK = 1 << 20


class Lines:
    """``(line number, segment bytes)`` for every non-blank segment, any terminator, streamed.

    Once iterated, ``terminated`` says whether the file's last segment ended with a segment
    terminator (CR, LF, CRLF) or an MLLP end block, and ``open_frame`` whether the file ended
    inside an MLLP block (a 0x0B start block without its 0x1C end block): what tells a file cut
    off in the middle (see :func:`read_messages`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.terminated = True
        self.open_frame = False

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        lineno = 0
        rest = b""
        with open_utf8(self.path) as fh:
            first = True
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                if first:
                    chunk = chunk.removeprefix(b"\xef\xbb\xbf")
                    first = False
                data = rest + chunk
                parts = _SPLIT.split(data)
                # A chunk can end between CR and LF: hold the last part (and a trailing CR) back.
                rest = parts.pop()
                if data.endswith(b"\r"):
                    rest = b""
                for part in parts:
                    lineno += 1
                    if part and (part[0] in _FRAMING or part[-1] in _FRAMING):
                        self._frame(part)
                    seg = part.strip(_FRAMING).strip()
                    if seg:
                        yield lineno, seg
        if rest:
            self._frame(rest)
        last = rest.strip(_FRAMING).strip()
        self.terminated = not last or rest.rstrip().endswith(b"\x1c")
        if last:
            yield lineno + 1, last

    def _frame(self, part: bytes) -> None:
        start, end = part.rfind(b"\x0b"), part.rfind(b"\x1c")
        if start != end:  # both -1 when neither is there
            self.open_frame = start > end


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, segment bytes) for every non-blank segment, any terminator, streamed."""
    return iter(Lines(path))


def decode(raw: bytes, codec: str = "") -> str:
    """Segment bytes as text: UTF-8 when valid (senders that declare 8859/1 often send UTF-8, and
    valid UTF-8 beyond ASCII is almost never an accident), else the MSH-18 character set of the
    message, else Windows-1252 (what ASCII-declared feeds send)."""
    if codec and codec != "utf-8" and codec not in _ASCII_COMPATIBLE:
        try:  # a multi-byte national set (GB 18030, Big5, KS X 1001, JIS) first: its bytes may be valid UTF-8
            return raw.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(codec if codec and codec != "utf-8" else "cp1252", errors="replace")


# HL7 Table 0211 Alternate Character Sets (MSH-18) -> Python codecs. UNICODE (UCS-2/UTF-16) needs
# no entry: such files carry a BOM and are transcoded to UTF-8 as they are read.
CHARSETS = {
    "ASCII": "ascii", "8859/1": "latin-1", "8859/2": "iso8859-2", "8859/3": "iso8859-3", "8859/4": "iso8859-4",
    "8859/5": "iso8859-5", "8859/6": "iso8859-6", "8859/7": "iso8859-7", "8859/8": "iso8859-8",
    "8859/9": "iso8859-9", "8859/15": "iso8859-15", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8",
    "GB 18030-2000": "gb18030", "BIG-5": "big5", "KS X 1001": "euc-kr", "ISO IR87": "iso2022-jp",
    "ISO IR159": "iso2022-jp-2", "ISO IR14": "iso2022-jp", "CNS 11643-1992": "big5",
}
_ASCII_COMPATIBLE = frozenset({"ascii", "latin-1", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5",
                               "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-9", "iso8859-15"})


def charset(msh: bytes) -> str:
    """The Python codec of MSH-18 (its first repetition), '' when absent or unknown."""
    if len(msh) < 4:
        return ""
    fields = msh.split(msh[3:4])
    if len(fields) <= 17:
        return ""
    rep = fields[17].split(msh[5:6])[0] if len(msh) > 5 else fields[17]
    return CHARSETS.get(rep.decode("ascii", errors="replace").strip().upper(), "")


@dataclass
class RawMessage:
    """The segments of one message and where it sits in the file."""

    index: int
    line: int
    segments: list[str]


@dataclass
class _Batch:
    header_line: int
    kind: str  # BHS or FHS
    messages: int = 0
    batches: int = 0
    loose: int = 0  # FHS only: messages outside any BHS (an implicit batch, as senders do)


def read_messages(path: Path, strictness: Strictness = Strictness.WARN) -> Iterator[Unit[Message]]:
    """Units of one HL7 v2 file: one per message, plus one per broken envelope and one per run of
    segments outside any message (a PID before the first MSH, segments after a BTS).

    A file cut off in the middle is told by what is missing at its end, and costs the message the
    file ends in (the ones before it are whole: another MSH followed them):

    - the file ends inside a batch or file envelope (BHS without its BTS, FHS without its FTS), or
      inside an MLLP block (0x0B without its 0x1C): the last message is rejected (``incomplete``),
      and the missing trailer is its own error record;
    - the last segment has no segment terminator (HL7 v2.5.1 §2.5.1 ends every segment with a
      carriage return). Hand-written files often omit the last one, so this follows
      ``strictness``: ``warn`` (default) converts the message with a warning, ``raise`` rejects
      it, ``ignore`` says nothing.
    """
    name = path.name
    lines = Lines(path)
    current: list[str] = []
    start_line = 0
    index = 0
    fhs: _Batch | None = None
    bhs: _Batch | None = None
    envelope_errors: list[InputError] = []
    stray: list[int] = []  # the run of segments outside any message being read: first line, count
    stray_text = ""  # its first segment, for the record's excerpt
    codec = ""  # the MSH-18 character set of the message being read

    def flush(cut: str = "") -> Unit[Message] | None:
        nonlocal current, index
        if not current:
            return None
        index += 1
        if bhs is not None:
            bhs.messages += 1
        elif fhs is not None:
            fhs.loose += 1
        unit = _to_unit(name, RawMessage(index, start_line, current), cut)
        current = []
        return unit

    def end_stray() -> None:
        if stray:
            envelope_errors.append(ParseError(
                f"{stray[1]} segment(s) outside any message, from line {stray[0]}: every message must "
                "start with MSH, so they were not converted", Location(name, f"line {stray[0]}")
            ).quote("segment", stray_text))
            stray.clear()

    for lineno, raw in lines:
        tag = raw[:3]
        if tag == b"MSH":
            end_stray()
            if (u := flush()) is not None:
                yield u
            codec = charset(raw)
            current, start_line = [decode(raw, codec)], lineno
        elif tag in (b"FHS", b"BHS", b"BTS", b"FTS"):
            end_stray()
            if (u := flush()) is not None:
                yield u
            text = decode(raw)
            count = _count(text)
            if tag == b"FHS":
                if fhs is not None:
                    envelope_errors.append(EnvelopeError(f"FHS at line {lineno} before the FTS of the FHS at line {fhs.header_line}", Location(name, f"line {lineno}")))
                fhs = _Batch(lineno, "FHS")
            elif tag == b"BHS":
                if bhs is not None:
                    envelope_errors.append(EnvelopeError(f"batch opened by BHS at line {bhs.header_line} has no BTS", Location(name, f"line {bhs.header_line}")))
                bhs = _Batch(lineno, "BHS")
                if fhs is not None:
                    fhs.batches += 1
            elif tag == b"BTS":
                if bhs is None:
                    envelope_errors.append(EnvelopeError(f"BTS at line {lineno} without a BHS", Location(name, f"line {lineno}")))
                else:
                    if count is not None and count != bhs.messages:
                        envelope_errors.append(EnvelopeError(
                            f"BTS-1 says the batch has {count} messages, but {bhs.messages} were found",
                            Location(name, f"batch at line {bhs.header_line}", "BTS-1")))
                    bhs = None
            else:  # FTS
                if fhs is None:
                    envelope_errors.append(EnvelopeError(f"FTS at line {lineno} without an FHS", Location(name, f"line {lineno}")))
                else:
                    batches = fhs.batches + (1 if fhs.loose else 0)
                    if count is not None and count != batches:
                        envelope_errors.append(EnvelopeError(
                            f"FTS-1 says the file has {count} batches, but {batches} were found",
                            Location(name, f"file header at line {fhs.header_line}", "FTS-1")))
                    fhs = None
        elif current:
            current.append(decode(raw, codec))
        elif stray:
            stray[1] += 1
        else:
            stray.extend((lineno, 1))
            stray_text = decode(raw[:80])
    end_stray()
    cut = ""
    if bhs is not None:
        cut = f"the file ends inside the batch opened by BHS at line {bhs.header_line}, before its BTS"
    elif fhs is not None:
        cut = f"the file ends inside the file envelope opened by FHS at line {fhs.header_line}, before its FTS"
    elif lines.open_frame:
        cut = "the file ends inside an MLLP block (a 0x0B start block without its 0x1C end block)"
    elif not lines.terminated and strictness is Strictness.RAISE:
        cut = "the file's last segment has no segment terminator (carriage return)"
    if (u := flush(cut)) is not None:
        if not lines.terminated and not cut and strictness is Strictness.WARN:
            u.warnings.append("the file's last segment has no segment terminator (carriage return; HL7 v2.5.1 "
                              "§2.5.1): if the file was cut off, this message is incomplete; converted as it is")
        yield u
    if bhs is not None:
        envelope_errors.append(EnvelopeError(f"batch opened by BHS at line {bhs.header_line} has no BTS", Location(name, f"line {bhs.header_line}")))
    if fhs is not None:
        envelope_errors.append(EnvelopeError(f"file opened by FHS at line {fhs.header_line} has no FTS", Location(name, f"line {fhs.header_line}")))
    if index == 0 and not envelope_errors:
        envelope_errors.append(ParseError("no HL7 v2 message (MSH segment) in the file", Location(name)))
    for err in envelope_errors:
        yield Unit(location=err.location or Location(name), error=err)


def _count(text: str) -> int | None:
    parts = text.split(text[3] if len(text) > 3 else "|")
    value = parts[1].strip() if len(parts) > 1 else ""
    return int(value) if value.isdigit() else None


def _to_unit(name: str, raw: RawMessage, cut: str = "") -> Unit[Message]:
    # The place is the message's position; MSH-10 (a value of the sender's) is quoted for the
    # error NDJSON only, like every source value (etl.errors.InputError).
    loc = Location(name, f"message {raw.index} at line {raw.line}")
    control = _msh10(raw.segments[0])
    quoted = {"MSH-10": control} if control else {}
    if cut:
        err = EnvelopeError(f"the message may be cut off: {cut}; it is not converted (send the file again whole)",
                            loc, code="incomplete", quoted=quoted)
        return Unit(location=loc, error=err, quoted=quoted)
    try:
        msg = Message(raw.segments)
    except ParseError as exc:
        for path, value in quoted.items():
            exc.quoted.setdefault(path, value)
        return Unit(location=loc, error=exc.at(loc), quoted=quoted)
    msg.source_file, msg.position = name, f"message {raw.index} at line {raw.line}"
    return Unit(location=loc, record=msg, quoted=quoted)


def _msh10(msh: str) -> str:
    if len(msh) < 4:
        return ""
    fields = msh.split(msh[3])
    value = fields[9].strip() if len(fields) > 9 else ""
    # A control id is a sender's sequence number; keep it short and printable in locations.
    return value[:40] if value.isprintable() else ""
