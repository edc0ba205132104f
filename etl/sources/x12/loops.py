"""Loop recognition for the 5010 TR3s fhirflow maps, with the structural checks a mapper relies on.

A :class:`LoopTracker` is fed the segments of one transaction set in order, tags each with its
TR3 loop id (``2010BA``, ``2300``, ``2110``…) and raises :class:`etl.errors.ParseError` /
:class:`etl.errors.MappingError` when the structure is broken: a segment out of order inside a
name loop, a required segment or loop missing. Loop ids and their trigger segments follow
ASC X12N 005010X222A1 (837P), X223A2 (837I), X224A2 (837D), X221A1 (835) and X220A1 (834).

A problem confined to one claim (837: its 2300 loop and below; 835: one CLP 2100 loop and below;
834: one INS member loop) does not raise: it is recorded in :attr:`LoopTracker.faults` under the
position of the claim's first segment, the tracker reads on, and the mapper rejects that claim
alone (see :mod:`etl.sources.x12.claims`). Problems of the header, the billing-provider and
subscriber HL loops, and anything outside a claim, raise: they reject the transaction set.

It is not a full TR3 validator (that is pyx12's job behind ``--validate``): it checks what the
mapping needs, so that a transaction set either maps faithfully or is rejected with a clear reason.
"""

from __future__ import annotations

import re

from etl.errors import InputError, Location, MappingError, ParseError
from etl.sources.x12.model import Seg

SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_VALID_IDS: set[str] = set()  # ids already matched by SEGMENT_ID (at most 26·37·37 of them)

# Order of segments inside the name loops (NM1 … ) of the 837 TR3s: 2010AA NM1, N3, N4, REF, PER;
# 2010BA NM1, N3, N4, DMG, REF, PER; 2310B/2420A NM1, PRV, REF.
NAME_LOOP_ORDER = {"NM1": 0, "PRV": 1, "N3": 2, "N4": 3, "DMG": 4, "REF": 5, "PER": 6}

# 837 2300 name loops by NM101 qualifier, per TR3 (2310A…).
LOOPS_2310: dict[str, dict[str, str]] = {
    "837P": {"DN": "2310A", "P3": "2310A", "82": "2310B", "77": "2310C", "DQ": "2310D", "PW": "2310E", "45": "2310F"},
    "837I": {"71": "2310A", "72": "2310B", "ZZ": "2310C", "82": "2310D", "77": "2310E", "DN": "2310F"},
    "837D": {"DN": "2310A", "P3": "2310A", "82": "2310B", "77": "2310C", "DD": "2310D"},
}
LOOPS_2330 = {"IL": "2330A", "PR": "2330B", "DN": "2330C", "P3": "2330C", "82": "2330D", "71": "2330C",
              "72": "2330D", "ZZ": "2330E", "77": "2330E", "DQ": "2330F", "85": "2330G", "DD": "2330E"}
LOOPS_2420 = {"82": "2420A", "QB": "2420C", "77": "2420C", "DQ": "2420D", "DK": "2420E", "DN": "2420F",
              "P3": "2420F", "PW": "2420G", "45": "2420H", "71": "2420A", "72": "2420B", "ZZ": "2420C"}
LOOPS_2010 = {"85": "2010AA", "87": "2010AB", "PE": "2010AC", "IL": "2010BA", "PR": "2010BB", "QC": "2010CA"}

# Required segments of name loops (TR3 usage "Required") that the mappers depend on.
REQUIRED_IN_LOOP = {"2010AA": ("N3", "N4"), "2010AB": ("N3", "N4"), "2010BB": (), "2010CA": ()}


class LoopTracker:
    """Tags segments with loop ids and checks structure; one tracker per transaction set."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._is_837 = kind.startswith("837")
        self.loop = "HEADER"
        self.name_loop: str | None = None
        self.name_pos = -1
        self.name_seen: set[str] = set()
        self.name_first: Seg | None = None
        self.hl_level = ""
        self.hl_loops: set[str] = set()
        self.hl_first: Seg | None = None
        self.claim: Seg | None = None
        self.claim_has_hi = False
        self.claim_lines = 0
        self.bodies = 0  # claims (837 CLM, 835 CLP) or members (834 INS) seen so far
        self.body: Seg | None = None  # the 835 CLP / 834 INS being read (837: ``claim``)
        # claim-level problems: position of the claim's CLM / CLP / INS -> the first problem found in it
        self.faults: dict[int, InputError] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def _close_name_loop(self) -> None:
        if self.name_loop is None:  # nothing open (the common case): the state is already reset
            return
        if self.name_first is not None:
            for need in REQUIRED_IN_LOOP.get(self.name_loop, ()):
                if need not in self.name_seen:
                    raise MappingError(
                        f"loop {self.name_loop} ({_NAME_LOOP_TEXT.get(self.name_loop, 'name')}) has no {need} "
                        f"segment; the TR3 requires it", code="required").at_expression(f"{self.name_loop} {need}")
        self.name_loop, self.name_pos, self.name_seen, self.name_first = None, -1, set(), None

    def _open_name_loop(self, loop_id: str, seg: Seg) -> None:
        self._close_name_loop()
        self.name_loop, self.name_pos, self.name_seen, self.name_first = loop_id, 0, {"NM1"}, seg
        self.hl_loops.add(loop_id)

    def _fault(self, body: Seg, exc: InputError, seg: Seg) -> None:
        """Keep the first problem of the claim that starts at ``body``; ``seg`` is where it is."""
        if body.n not in self.faults:
            self.faults[body.n] = exc.at(Location("", f"segment {seg.n} ({seg.e[0]})"))

    def _close_claim(self) -> None:
        claim = self.claim
        if claim is None:
            return
        self.claim = None
        if self.kind in ("837P", "837I") and not self.claim_has_hi:
            self._fault(claim, MappingError(
                "the claim (loop 2300) has no HI segment: the health care diagnosis code is required for "
                "professional and institutional claims", code="required").at_expression("2300 HI"), claim)
        if not self.claim_lines:
            self._fault(claim, MappingError(
                "the claim (loop 2300) has no service line (loop 2400 LX); the TR3 requires at least one",
                code="required").at_expression("2400 LX"), claim)

    def _close_hl(self) -> None:
        self._close_name_loop()
        self._close_claim()
        first = self.hl_first
        if first is None:
            return
        needs = {"20": ("2010AA",), "22": ("2010BA", "2010BB")}.get(self.hl_level, ())
        for loop_id in needs:
            if loop_id not in self.hl_loops:
                what = _NAME_LOOP_TEXT.get(loop_id, loop_id)
                raise MappingError(
                    f"HL {first.get(1)} (loop {_HL_LOOP.get(self.hl_level, '2000')}, segment {first.n}) has no "
                    f"loop {loop_id} ({what}); the TR3 requires it", code="required").at_expression(loop_id)
        if self.hl_level == "22" and "SBR" not in self.hl_loops:
            raise MappingError(f"HL {first.get(1)} (loop 2000B, segment {first.n}) has no SBR segment",
                               code="required").at_expression("2000B SBR")

    def _in_name_loop(self, seg: Seg) -> None:
        pos = NAME_LOOP_ORDER.get(seg.e[0])
        if pos is None:
            return
        if pos < self.name_pos:
            raise ParseError(
                f"segment {seg.e[0]} is out of order in loop {self.name_loop}: it must come before "
                f"{', '.join(sorted(k for k in self.name_seen if NAME_LOOP_ORDER.get(k, -1) > pos))}",
                code="structure").at_expression(f"{self.name_loop} {seg.e[0]}")
        self.name_pos = pos
        self.name_seen.add(seg.e[0])

    # -- the state machines ----------------------------------------------------------------------
    def feed(self, seg: Seg) -> None:
        """Tag ``seg`` with its loop id; raise :class:`InputError` on a structural problem outside
        any claim, record one inside a claim in :attr:`faults`."""
        body = self.claim if self._is_837 else self.body
        try:
            self._feed(seg)
        except InputError as exc:
            # Inside a claim, by a segment that neither ends it nor starts the next one: that claim's.
            if body is None or body is not (self.claim if self._is_837 else self.body):
                raise
            self._fault(body, exc, seg)

    def _feed(self, seg: Seg) -> None:
        sid = seg.e[0]
        if sid not in _VALID_IDS:
            if not SEGMENT_ID.match(sid):
                raise ParseError("a segment does not start with a valid segment identifier (2-3 upper-case "
                                 "letters/digits)", code="structure").quote("segment", sid[:80])
            _VALID_IDS.add(sid)
        if self._is_837:
            if sid == "SE":
                self._close_hl()
                seg.loop = "TRAILER"
                return
            self._feed_837(seg, sid)
            return
        if sid == "SE":
            self.body = None
            self._close_name_loop()
            seg.loop = "TRAILER"
            return
        if self.kind == "835":
            self._feed_835(seg, sid)
        else:
            self._feed_834(seg, sid)

    def _feed_837(self, seg: Seg, sid: str) -> None:
        if sid == "HL":
            self._close_hl()
            level = seg.get(3)
            if level not in _HL_LOOP:
                raise MappingError("HL03 hierarchical level code is not 20, 22 or 23",
                                   code="value").at_expression("HL03").quote("HL03", level)
            self.hl_level, self.hl_loops, self.hl_first = level, set(), seg
            self.loop = seg.loop = _HL_LOOP[level]
            return
        if sid == "CLM":
            if not self.hl_level:
                raise ParseError("CLM before any HL segment: a claim must sit in a 2000B/2000C loop")
            self._close_name_loop()
            self._close_claim()
            self.claim, self.claim_has_hi, self.claim_lines = seg, False, 0
            self.bodies += 1
            self.loop = seg.loop = "2300"
            return
        if self.claim is None:  # header or 2000A/B/C
            if sid == "NM1":
                q = seg.get(1)
                if self.loop == "HEADER" or self.loop.startswith("1000"):
                    loop_id = {"41": "1000A", "40": "1000B"}.get(q, "HEADER")
                    self.loop = loop_id
                    seg.loop = loop_id
                    return
                loop_id = LOOPS_2010.get(q, self.loop + "-NM1")
                self._open_name_loop(loop_id, seg)
                seg.loop = loop_id
                return
            if sid == "SBR":
                self.hl_loops.add("SBR")
            if self.name_loop is not None and sid in NAME_LOOP_ORDER:
                self._in_name_loop(seg)
                seg.loop = self.name_loop
                return
            self._close_name_loop()
            seg.loop = self.loop
            return
        # inside a claim (2300 and below)
        if sid == "LX":
            self._close_name_loop()
            self.claim_lines += 1
            self.loop = seg.loop = "2400"
            return
        if sid == "SBR" and self.loop in ("2300", "2320") or sid == "SBR" and self.loop.startswith("23"):
            self._close_name_loop()
            self.loop = seg.loop = "2320"
            return
        if sid == "HI" and self.loop == "2300":
            self.claim_has_hi = True
        if sid == "NM1":
            q = seg.get(1)
            if self.loop.startswith("24"):
                loop_id = LOOPS_2420.get(q, "2420")
            elif self.loop.startswith("232") or self.loop.startswith("233"):
                loop_id = LOOPS_2330.get(q, "2330")
            else:
                loop_id = LOOPS_2310[self.kind].get(q, "2310")
            self._open_name_loop(loop_id, seg)
            seg.loop = loop_id
            return
        if self.name_loop is not None:
            if sid in NAME_LOOP_ORDER and sid != "DMG":
                self._in_name_loop(seg)
                seg.loop = self.name_loop
                return
            self._close_name_loop()
        loop = self.loop
        if loop.startswith("24"):
            loop = _LOOPS_24.get(sid, loop if loop != "2420" else "2400")
            if loop.startswith("242"):
                loop = "2400"
            self.loop = loop
        elif loop.startswith("231"):
            loop = self.loop = "2300"
        elif loop.startswith("233"):
            loop = self.loop = "2320"
        seg.loop = loop

    def _feed_835(self, seg: Seg, sid: str) -> None:
        if sid == "N1":
            loop_id = {"PR": "1000A", "PE": "1000B"}.get(seg.get(1), "1000")
            self.loop = seg.loop = loop_id
        elif sid == "LX":
            self.body = None
            self.loop = seg.loop = "2000"
        elif sid == "CLP":
            self.body = seg
            self.bodies += 1
            self.loop = seg.loop = "2100"
        elif sid == "SVC":
            if self.loop not in ("2100", "2110"):
                raise ParseError("SVC (service payment information) outside a claim (loop 2100 CLP)")
            self.loop = seg.loop = "2110"
        elif sid == "PLB":
            self.body = None
            self.loop = seg.loop = "TRAILER"
        else:
            seg.loop = self.loop

    def _feed_834(self, seg: Seg, sid: str) -> None:
        loop = self.loop
        if sid == "N1" and loop in ("HEADER", "1000A", "1000B", "1000C"):
            loop = {"P5": "1000A", "IN": "1000B", "BO": "1000C", "TV": "1000C"}.get(seg.get(1), "1000")
        elif sid == "ACT" and loop.startswith("1000"):
            loop = "1100C"
        elif sid == "INS":
            self.body = seg
            self.bodies += 1
            loop = "2000"
        elif sid == "NM1" and loop.startswith("2"):
            if loop.startswith("231") or loop == "2300" and False:
                loop = "2310"
            elif loop in ("2310",):
                loop = "2310"
            else:
                q = seg.get(1)
                # X220A1: 2100A member name is NM1*IL or NM1*74 (corrected insured); 2100B incorrect name NM1*70
                loop = {"IL": "2100A", "74": "2100A", "70": "2100B", "31": "2100C", "36": "2100D",
                        "M8": "2100E", "S3": "2100F", "QD": "2100G", "E1": "2100G", "EI": "2100G",
                        "EXS": "2100G", "GB": "2100G", "GD": "2100G", "J6": "2100G", "LR": "2100G",
                        "QD ": "2100G", "S1": "2100G", "TZ": "2100G", "X4": "2100G", "45": "2100H"}.get(q, "2100")
        elif sid == "HD":
            loop = "2300"
        elif sid == "LX" and loop.startswith("23"):
            loop = "2310"
        elif sid == "COB":
            loop = "2320"
        elif sid in ("LS", "LE"):
            loop = "2700" if sid == "LS" else "2000"
        elif sid == "DSB":
            loop = "2200"
        self.loop = seg.loop = loop


_HL_LOOP = {"20": "2000A", "22": "2000B", "23": "2000C"}
_LOOPS_24 = {"LIN": "2410", "SVD": "2430", "LQ": "2440"}  # 2400 children started by a segment
_NAME_LOOP_TEXT = {
    "2010AA": "billing provider name, NM1*85", "2010AB": "pay-to address, NM1*87",
    "2010BA": "subscriber name, NM1*IL", "2010BB": "payer name, NM1*PR", "2010CA": "patient name, NM1*QC",
}


def check(tracker: LoopTracker, seg: Seg) -> InputError | None:
    """Feed ``seg``; the structural error, if any, instead of raising it."""
    try:
        tracker.feed(seg)
    except InputError as exc:
        return exc
    return None
