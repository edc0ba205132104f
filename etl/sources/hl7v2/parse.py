"""Stream HL7 v2 files message by message.

Handles plain concatenated messages, batches (BHS … BTS) and files (FHS … FTS) as defined in
HL7 v2.5 §2.10.3, segment terminators CR, LF or CRLF, a UTF-8 BOM, MLLP framing bytes, and blank
lines. Memory stays at one message whatever the file size. Envelope problems (a BHS without BTS,
BTS-1/FTS-1 counts that disagree) are reported as their own error units after the messages,
which still convert.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from etl.errors import EnvelopeError, InputError, Location, ParseError
from etl.sources.base import Unit
from etl.sources.hl7v2.model import Message

_SPLIT = re.compile(rb"\r\n|\r|\n")
_FRAMING = bytes([0x0B, 0x1C])  # MLLP start block / end block, sometimes left in saved files
CHUNK = 1 << 20


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, segment bytes) for every non-blank segment, any terminator, streamed."""
    lineno = 0
    rest = b""
    with open(path, "rb") as fh:
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
                seg = part.strip(_FRAMING).strip()
                if seg:
                    yield lineno, seg
        if rest.strip(_FRAMING).strip():
            yield lineno + 1, rest.strip(_FRAMING).strip()


def decode(raw: bytes) -> str:
    """Message bytes as text: UTF-8 when valid, else Windows-1252 (what ASCII-declared feeds send)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


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


def read_messages(path: Path) -> Iterator[Unit[Message]]:
    """Units of one HL7 v2 file: one per message, plus one per broken envelope."""
    name = path.name
    current: list[str] = []
    start_line = 0
    index = 0
    fhs: _Batch | None = None
    bhs: _Batch | None = None
    envelope_errors: list[InputError] = []
    stray: list[int] = []

    def flush() -> Unit[Message] | None:
        nonlocal current, index
        if not current:
            return None
        index += 1
        if bhs is not None:
            bhs.messages += 1
        elif fhs is not None:
            fhs.loose += 1
        unit = _to_unit(name, RawMessage(index, start_line, current))
        current = []
        return unit

    for lineno, raw in iter_lines(path):
        tag = raw[:3]
        if tag == b"MSH":
            if (u := flush()) is not None:
                yield u
            current, start_line = [decode(raw)], lineno
        elif tag in (b"FHS", b"BHS", b"BTS", b"FTS"):
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
            current.append(decode(raw))
        else:
            stray.append(lineno)
    if (u := flush()) is not None:
        yield u
    if bhs is not None:
        envelope_errors.append(EnvelopeError(f"batch opened by BHS at line {bhs.header_line} has no BTS", Location(name, f"line {bhs.header_line}")))
    if fhs is not None:
        envelope_errors.append(EnvelopeError(f"file opened by FHS at line {fhs.header_line} has no FTS", Location(name, f"line {fhs.header_line}")))
    if stray:
        envelope_errors.append(ParseError(
            f"{len(stray)} segment(s) outside any message (first at line {stray[0]}); "
            "every message must start with MSH",
            Location(name, f"line {stray[0]}")))
    if index == 0 and not envelope_errors:
        envelope_errors.append(ParseError("no HL7 v2 message (MSH segment) in the file", Location(name)))
    for err in envelope_errors:
        yield Unit(location=err.location or Location(name), error=err)


def _count(text: str) -> int | None:
    parts = text.split(text[3] if len(text) > 3 else "|")
    value = parts[1].strip() if len(parts) > 1 else ""
    return int(value) if value.isdigit() else None


def _to_unit(name: str, raw: RawMessage) -> Unit[Message]:
    control = _msh10(raw.segments[0])
    where = (f"message {raw.index} (MSH-10 {control})" if control
             else f"message {raw.index} at line {raw.line} (no MSH-10)")
    loc = Location(name, where)
    try:
        msg = Message(raw.segments)
    except ParseError as exc:
        return Unit(location=loc, error=exc.at(loc))
    return Unit(location=loc, record=msg)


def _msh10(msh: str) -> str:
    if len(msh) < 4:
        return ""
    fields = msh.split(msh[3])
    value = fields[9].strip() if len(fields) > 9 else ""
    # A control id is a sender's sequence number; keep it short and printable in locations.
    return value[:40] if value.isprintable() else ""
