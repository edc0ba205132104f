"""Typed, spec-path access to one HL7 v2 message: ``msg.get("PID-5.1")``, ``msg.reps("PID-3")``.

Paths count from 1 as the HL7 v2 standard does: ``SEG-field[.component[.subcomponent]]``, the
first repetition unless ``[n]`` says otherwise (``PID-3[2].1``). Escape sequences (``\\F\\`` etc.,
HL7 v2.5 §2.7) are resolved in returned values, never in the structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from etl.errors import ParseError

_PATH = re.compile(r"^(?P<seg>[A-Z][A-Z0-9]{2})-(?P<f>\d+)(?:\[(?P<r>\d+)\])?(?:\.(?P<c>\d+))?(?:\.(?P<s>\d+))?$")


@dataclass(frozen=True)
class Encoding:
    """MSH-1 and MSH-2: field, component, repetition, escape, subcomponent separators."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def unescape(self, text: str) -> str:
        """Resolve the escape sequences of HL7 v2.5 §2.7: delimiters (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\),
        hexadecimal data (\\Xhh...\\, decoded as UTF-8, else ISO 8859-1), line breaks and skips
        (\\.br\\, \\.sp[n]\\), and formatting (\\H\\ \\N\\ \\.in\\ \\.ti\\ \\.ce\\ \\.fi\\ \\.nf\\ \\.sk\\,
        character-set switches \\Cxxyy\\ \\Mxxyyzz\\, locally defined \\Z..\\), which carry no data.
        An escape character without its closing one is kept as it is."""
        if self.escape not in text:
            return text
        e = re.escape(self.escape)
        table = {"F": self.field, "S": self.component, "R": self.repetition, "E": self.escape,
                 "T": self.subcomponent, ".br": "\n"}

        def sub(m: re.Match[str]) -> str:
            code = m.group(1)
            if code in table:
                return table[code]
            if code.startswith("X") and len(code) > 1:
                try:
                    data = bytes.fromhex(code[1:])
                except ValueError:
                    return ""
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    return data.decode("latin-1")
            if code.startswith(".sp"):
                n = code[3:].strip().lstrip("+")
                return "\n" * (int(n) if n.isdigit() and int(n) < 100 else 1)
            return ""  # formatting escapes (\\H\\, \\N\\, .in, .ti, .ce, .fi, .nf, .sk, \\C, \\M, \\Z) carry no data

        return re.sub(f"{e}([^{e}\r\n]+){e}", sub, text)


class Component:
    """One repetition of a field, split into components (and subcomponents on demand)."""

    def __init__(self, raw: str, enc: Encoding) -> None:
        self.raw = raw
        self.enc = enc
        self._parts = raw.split(enc.component)

    def get(self, component: int = 1, sub: int | None = None) -> str:
        """Component ``component`` (1-based), or one of its subcomponents; '' when absent."""
        if component > len(self._parts):
            return ""
        value = self._parts[component - 1]
        if sub is not None:
            subs = value.split(self.enc.subcomponent)
            value = subs[sub - 1] if sub <= len(subs) else ""
        elif self.enc.subcomponent in value:
            value = value.split(self.enc.subcomponent)[0]
        return self.enc.unescape(value).strip()

    def __bool__(self) -> bool:
        return bool(self.raw.strip(self.enc.component + self.enc.subcomponent + " "))


class Segment:
    """One segment; ``field(n)`` counts as the spec does, MSH included (MSH-1 is the separator)."""

    def __init__(self, text: str, enc: Encoding) -> None:
        self.text = text
        self.enc = enc
        self.name = text[:3]
        self._fields = text.split(enc.field)
        if self.name == "MSH":
            # MSH-1 is the separator itself, so MSH-n sits one place left of other segments' n.
            self._fields = ["MSH", enc.field, *self._fields[1:]]

    def raw(self, n: int) -> str:
        return self._fields[n] if n < len(self._fields) else ""

    def reps(self, n: int) -> list[Component]:
        """The non-empty repetitions of field ``n``."""
        raw = self.raw(n)
        if not raw:
            return []
        if self.name == "MSH" and n in (1, 2):
            return [Component(raw, Encoding(component="\x00", subcomponent="\x01", escape="\x02"))]
        return [c for c in (Component(r, self.enc) for r in raw.split(self.enc.repetition)) if c]

    def get(self, n: int, component: int = 1, sub: int | None = None, rep: int = 1) -> str:
        reps = self.reps(n)
        return reps[rep - 1].get(component, sub) if rep <= len(reps) else ""


class Message:
    """One HL7 v2 message (MSH and the segments up to the next MSH)."""

    def __init__(self, segments: list[str]) -> None:
        if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
            raise ParseError("the message does not start with an MSH segment", code="structure")
        msh = segments[0]
        sep = msh[3]
        enc_chars = msh[4:].split(sep, 1)[0]
        if len(enc_chars) < 4:
            raise ParseError(f"MSH-2 has {len(enc_chars)} encoding characters, 4 are required", code="structure")
        self.encoding = Encoding(sep, enc_chars[0], enc_chars[1], enc_chars[2], enc_chars[3])
        # Where the message came from (set by the reader): the Provenance names them.
        self.source_file = ""
        self.position = ""
        self.segments = [Segment(s, self.encoding) for s in segments]
        for n, seg in enumerate(self.segments, start=1):
            if not re.match(r"^[A-Z][A-Z0-9]{2}$", seg.name) or (len(seg.text) > 3 and seg.text[3] != sep):
                # What stands there is often data (a line break inside a field starts a "segment"
                # with a name or a date): it goes to the excerpt, never into the message.
                raise ParseError(
                    f"segment {n} of the message does not start with a segment id (three upper-case letters "
                    "or digits) followed by the field separator of MSH-1 (a line break inside a field?)",
                    code="structure",
                ).quote(f"segment-{n}", seg.text[:80])

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def get(self, path: str) -> str:
        """The value at a spec path (``PID-5.1``, ``MSH-9.2``, ``PID-3[2].4.1``), '' when absent."""
        m = _PATH.match(path)
        if not m:
            raise ValueError(f"not an HL7 v2 field path: {path!r}")
        seg = self.first(m["seg"])
        if seg is None:
            return ""
        return seg.get(int(m["f"]), int(m["c"] or 1), int(m["s"]) if m["s"] else None, int(m["r"] or 1))

    @property
    def control_id(self) -> str:
        """MSH-10, the message control id (not PHI: a sender's sequence number)."""
        return self.get("MSH-10")

    @property
    def message_type(self) -> str:
        """``MSH-9.1^MSH-9.2`` (``ADT^A01``); ``ADT^A04^ADT_A01`` becomes ``ADT^A04``."""
        return f"{self.get('MSH-9.1')}^{self.get('MSH-9.2')}".rstrip("^")

    def groups(self, start: str, until: frozenset[str] = frozenset()) -> Iterator[list[Segment]]:
        """Runs of segments that begin at each ``start`` segment and end before the next ``start``
        or any segment named in ``until`` (e.g. OBR with everything of its ORDER_OBSERVATION group:
        OBX, NTE, PRT, SPM, ... up to the next OBR, ORC or PID)."""
        group: list[Segment] | None = None
        for seg in self.segments:
            if seg.name == start:
                if group:
                    yield group
                group = [seg]
            elif seg.name in until:
                if group:
                    yield group
                group = None
            elif group is not None:
                group.append(seg)
        if group:
            yield group
