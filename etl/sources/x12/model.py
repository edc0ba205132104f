"""The parsed shape of an X12 transaction set: envelope facts plus loop-tagged segments.

Elements are addressed as the TR3s do: ``seg.get(5, 3)`` is ``CLM05-3`` (1-based element, 1-based
component). A :class:`Transaction` is one unit of conversion: a whole ST…SE, or, for a transaction
set larger than :data:`etl.sources.x12.envelope.MAX_BODIES` claims, one part of it (see there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from etl.errors import InputError, Location


class Seg:
    """One segment: ``n`` its position in the transaction set (ST = 1, as in 999 IK3-02), ``e`` its
    elements (``e[0]`` the segment id), ``loop`` the TR3 loop id it belongs to (``2010BA``)."""

    __slots__ = ("n", "e", "loop", "c", "r")

    def __init__(self, n: int, e: Sequence[str], loop: str, c: str, r: str | None = None) -> None:
        self.n = n
        # A tuple, not a list: the garbage collector stops tracking a tuple of strings, and a large
        # transaction set holds hundreds of thousands of segments (every full collection walks them).
        self.e: tuple[str, ...] = tuple(e)
        self.loop = loop
        self.c = c  # component separator
        self.r = r  # repetition separator

    @property
    def id(self) -> str:
        return self.e[0]

    def get(self, i: int, comp: int = 0) -> str:
        """Element ``i`` (1-based), or its component ``comp`` (1-based); "" when absent."""
        e = self.e
        if i >= len(e):
            return ""
        v = e[i]
        if comp:
            sep = self.c
            if sep not in v:
                # Published TR3 examples often use ">" inside composites while ISA16 says ":";
                # accept it (the mapper warns, see ``alien_separator``).
                if ">" in v and sep != ">":
                    sep = ">"
                else:
                    return v if comp == 1 else ""
            parts = v.split(sep)
            return parts[comp - 1] if comp <= len(parts) else ""
        return v

    def els(self, n: int) -> tuple[str, ...]:
        """Elements 0 … n-1 (``els(n)[i] == get(i)``), "" for those the segment does not have."""
        e = self.e
        return e[:n] if len(e) >= n else e + ("",) * (n - len(e))

    def comps(self, i: int) -> list[str]:
        """The components of element ``i`` (a composite such as ``SV101`` or ``HI01``)."""
        v = self.get(i)
        if not v:
            return []
        if self.c not in v and ">" in v:
            return v.split(">")
        return v.split(self.c)

    def alien_separator(self, i: int) -> bool:
        """True when composite ``i`` uses ">" although ISA16 is another character."""
        v = self.get(i)
        return self.c != ">" and self.c not in v and ">" in v

    def __repr__(self) -> str:
        return f"Seg({self.n}, {self.loop}, {list(self.e)!r})"


@dataclass(frozen=True)
class Envelope:
    """Interchange, group and transaction-set header facts a mapper or an error message needs."""

    file: str
    sender_qualifier: str  # ISA05
    sender: str  # ISA06
    receiver: str  # ISA08
    isa13: str
    isa_date: str  # ISA09 (YYMMDD)
    usage: str  # ISA15 P/T
    gs02: str  # application sender code
    gs03: str
    gs06: str
    gs08: str  # version / release / industry identifier code
    st01: str
    st02: str
    version: str  # ST03 when present, else GS08

    def where(self, segment: Seg | None = None) -> str:
        text = f"ISA13={self.isa13} GS06={self.gs06} ST02={self.st02}"
        if segment is not None:
            text += f", segment {segment.n} ({segment.id})"
        return text

    def location(self, segment: Seg | None = None, expression: str | None = None) -> Location:
        return Location(self.file, self.where(segment), expression)


@dataclass
class Transaction:
    """One unit: the segments of a transaction set (or of one part of a large one).

    ``kind`` is ``837P``, ``837I``, ``837D``, ``835`` or ``834``. ``part``/``parts`` number the
    pieces of a split transaction set (1/1 when whole). ``claim_charge_total`` is, for an 835, the
    sum of CLP04 over the *whole* transaction set (needed to balance BPR02 in any part), exact.
    ``faults`` holds the structure problems the reader found inside single claims, by the position
    (``Seg.n``) of the claim's CLM / CLP / INS: the mapper rejects those claims alone.
    """

    env: Envelope
    kind: str
    segments: list[Seg]
    part: int = 1
    parts: int = 1
    claim_charge_total: Decimal = Decimal(0)
    first_body: int = 1  # ordinal of the first claim/member of this part in the transaction set
    bodies: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    faults: dict[int, InputError] = field(default_factory=dict)

    @property
    def last_part(self) -> bool:
        return self.part == self.parts

    def loop(self, loop_id: str) -> list[Seg]:
        """The segments tagged ``loop_id``, in order."""
        return [s for s in self.segments if s.loop == loop_id]

    def first(self, seg_id: str, loop_id: str | None = None, q: str | None = None) -> Seg | None:
        """The first segment ``seg_id`` (in ``loop_id``; with element 1 == ``q``)."""
        for s in self.segments:
            if s.e[0] == seg_id and (loop_id is None or s.loop == loop_id) and (q is None or s.get(1) == q):
                return s
        return None
