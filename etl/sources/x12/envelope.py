"""Read an X12 file into units: one per transaction set (ST…SE), with the envelope checked.

Checks (ASC X12.6 / X12.5 control structures): ISA fixed width, ST02 = SE02, SE01 = the number of
segments from ST to SE, GS06 = GE02, GE01 = the number of transaction sets, ISA13 = IEA02, IEA01 =
the number of functional groups, every ST closed by an SE before the next ST/GE/IEA. Only 5010
837P/I/D, 835 and 834 are converted; any other version or transaction set (4010, 270/271, 276/277,
999, TA1-only interchanges) is rejected naming what it is.

What each problem costs:

- a transaction set with a syntax or envelope problem, or a loop-structure problem outside its
  claims, is rejected whole (one error unit), the others still convert;
- a loop-structure problem inside one claim (an 837 2300 loop without a 2400 LX, say) is kept on
  the unit (``Transaction.faults``, see :mod:`etl.sources.x12.loops`): the mapper rejects that
  claim alone and converts its siblings;
- a broken ISA (not 106 characters) rejects every transaction set of its interchange;
- SE01 disagreeing with the real count (ST to SE) rejects the transaction set: a segment may have
  been lost or added in transit. With ``counts_reject=False`` (strictness ``ignore``) it is a
  warning on the unit instead;
- GE01 or IEA01 disagreeing with the transaction sets / groups the file holds rejects every
  transaction set it counts (a set may have been lost in transit; with strictness ``ignore`` it is a
  warning on each). The counts are known before any set is read, from the first pass
  (:mod:`etl.sources.x12.scan`);
- GE02/IEA02 control-number mismatches and missing GE/IEA trailers become their own error units
  after the transaction sets, which still convert (the same policy as HL7 v2 batches);
- the ledger's verdict on an interchange (``seen``, asked at its ISA) skips its sets as already
  loaded, or rejects them (a reused control number under ``--duplicate-control reject``).

Memory: a transaction set is held in memory while it is read, up to :data:`MAX_BODIES` claims
(837 CLM / 835 CLP / 834 INS; the 837 TR3s recommend at most 5,000 CLM per ST–SE). A larger one is
first checked to its SE without keeping its segments, then read again from its byte offset and
yielded in parts of :data:`MAX_BODIES` claims, each part carrying the header and hierarchical
context it needs. A mapping problem then rejects that part only (its location names the claims).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from etl.errors import EnvelopeError, InputError, Location, ParseError, UnsupportedError
from etl.sources.base import Unit
from etl.sources.encoding import open_utf8
from etl.sources.x12.loops import LoopTracker
from etl.sources.x12.model import Envelope, Seg, Transaction
from etl.sources.x12.scan import InterchangeScan, scan_interchanges
from etl.sources.x12.tokenize import Delimiters, SegmentReader

MAX_BODIES = 5000

# Implementation guides (GS08 / ST03) fhirflow maps, and the transaction kind of each.
SUPPORTED: dict[str, str] = {
    "005010X222A1": "837P", "005010X222A2": "837P",
    "005010X223A2": "837I", "005010X223A3": "837I",
    "005010X224A2": "837D",
    "005010X221A1": "835",
    "005010X220A1": "834",
}
TRANSACTION_NAMES: dict[str, str] = {
    "270": "eligibility inquiry", "271": "eligibility response", "276": "claim status request",
    "277": "claim status response / acknowledgment", "278": "services review", "820": "premium payment",
    "824": "application advice", "837": "health care claim", "835": "claim payment/advice",
    "834": "benefit enrollment", "997": "functional acknowledgment", "999": "implementation acknowledgment",
}



@dataclass(frozen=True)
class Verdict:
    """What the ledger says of an interchange before its sets are read: convert them (no verdict),
    skip them (``skip``: the note for the summary, ``detail`` its facts), or reject each of them
    (``reject``: the message, issue code ``duplicate``)."""

    skip: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    reject: str | None = None


SeenCheck = Callable[[int], Verdict | None]  # the interchange's ordinal in the file (0 = first ISA)
InterchangeDone = Callable[[int, bool], None]  # (ordinal, clean: envelope whole, no set rejected)


@dataclass
class _Interchange:
    isa: list[str]
    offset: int
    problem: EnvelopeError | None
    verdict: Verdict | None
    scan: InterchangeScan | None
    ordinal: int
    groups: int = 0
    clean: bool = True

    @property
    def skipped(self) -> bool:
        return self.verdict is not None and self.verdict.skip is not None


@dataclass
class _Group:
    gs: list[str]
    n: int
    sets: int = 0


@dataclass
class _Set:
    env: Envelope
    kind: str
    offset: int
    tracker: LoopTracker
    segments: list[Seg] | None = field(default_factory=list)
    count: int = 1
    error: InputError | None = None
    clp_total: Decimal = Decimal(0)


def _el(e: list[str], i: int) -> str:
    return e[i].strip() if i < len(e) else ""


def _kind(st01: str, version: str) -> tuple[str, InputError | None]:
    kind = SUPPORTED.get(version)
    if kind is not None and kind[:3] == st01:
        return kind, None
    name = TRANSACTION_NAMES.get(st01, "transaction set")
    if version[:6] in ("004010", "003070", "004050") or version[:3] == "004":
        return "", UnsupportedError(
            f"X12 version {version[:6]} ({st01} {name}, {version}) is not supported: fhirflow converts "
            "5010 only (005010X222A1/A2 837P, X223A2/A3 837I, X224A2 837D, X221A1 835, X220A1 834); "
            "ask the sender for a 5010 file", code="not-supported").at_expression("GS08")
    if st01 not in ("837", "835", "834"):
        return "", UnsupportedError(
            f"transaction set {st01} ({name}, {version or 'no version'}) is not converted by fhirflow: "
            "it converts 837P/I/D claims, 835 remittances and 834 enrollments", code="not-supported"
        ).at_expression("ST01")
    return "", UnsupportedError(
        f"implementation guide {version or '(none given)'} for transaction set {st01} is not supported; "
        f"supported: {', '.join(sorted(SUPPORTED))}", code="not-supported").at_expression("ST03")


def read_transactions(
    path: Path,
    seen: SeenCheck | None = None,
    done: InterchangeDone | None = None,
    max_bodies: int = MAX_BODIES,
    scans: list[InterchangeScan] | None = None,
    counts_reject: bool = True,
) -> Iterator[Unit[Transaction]]:
    """Units of one X12 file. ``seen`` gives the ledger's verdict on each interchange (skip or
    reject its sets); ``done`` is told about every interchange read to its IEA and whether all of
    it converted so far (clean envelope, no rejected set). ``scans`` is the first pass over the file
    (made here when not given); ``counts_reject`` False turns SE01/GE01/IEA01 rejections into warnings."""
    name = path.name
    if scans is None:
        scans = scan_interchanges(path)
    with open_utf8(path) as fh:
        reader = SegmentReader(fh, name)
        yield from _read(reader, path, name, seen, done, max_bodies, scans, counts_reject)
        if reader.fatal is not None:
            yield Unit(location=reader.fatal.location or Location(name), error=reader.fatal)


def _read(
    reader: SegmentReader, path: Path, name: str, seen: SeenCheck | None,
    done: InterchangeDone | None, max_bodies: int, scans: list[InterchangeScan], counts_reject: bool,
) -> Iterator[Unit[Transaction]]:
    ix: _Interchange | None = None
    gp: _Group | None = None
    st: _Set | None = None
    delims: Delimiters | None = None
    stray: list[str] = []
    any_isa = False
    ordinal = -1
    trailing: list[InputError] = []

    def env_error(msg: str, where: str, expr: str, cls: type[InputError] = EnvelopeError) -> Unit[Transaction]:
        if ix is not None:
            ix.clean = False
        err = cls(msg, Location(name, where, expr))
        return Unit(location=err.location or Location(name), error=err)

    def ix_where() -> str:
        return f"ISA13={_el(ix.isa, 13)}" if ix is not None else "outside any interchange"

    for offset, text in reader:
        delims = reader.delimiters
        if delims is None:  # bytes before the first ISA
            stray.append(text[:3])
            continue
        e = text.split(delims.element)
        sid = e[0]
        if st is not None and sid not in ("SE", "ST", "GE", "IEA", "ISA", "GS"):
            st.count += 1
            if st.error is not None:
                continue
            seg = Seg(st.count, e, "", delims.component, delims.repetition)
            try:
                st.tracker.feed(seg)
            except InputError as exc:
                st.error = exc.at(st.env.location(seg))
                st.segments = None
                continue
            if st.kind == "835" and sid == "CLP":
                try:
                    clp04 = Decimal(seg.get(4) or 0)
                    if clp04.is_finite() and clp04.adjusted() < 18:  # larger: the mapper rejects the claim
                        st.clp_total += clp04
                except InvalidOperation:
                    pass  # the mapper reports the bad CLP04
            if st.segments is not None:
                if st.tracker.bodies > max_bodies:
                    st.segments = None  # too large to hold: re-read in parts after SE
                else:
                    st.segments.append(seg)
            continue
        if sid == "ISA":
            if st is not None:
                yield _unclosed(st, "ISA")
                st = None
            if ix is not None:
                yield env_error(f"interchange {ix_where()} has no IEA trailer before the next ISA",
                                ix_where(), "IEA")
            any_isa = True
            ordinal += 1
            isa = [x for x in e]
            verdict = seen(ordinal) if seen is not None else None
            scan = scans[ordinal] if ordinal < len(scans) else None
            ix = _Interchange(isa, offset, reader.isa_problem, verdict, scan, ordinal)
            if reader.isa_problem is not None:
                reader.isa_problem.at(Location(name, ix_where()))
            gp = None
        elif sid == "GS":
            if ix is None:
                stray.append(sid)
                continue
            if gp is not None:
                yield env_error(f"functional group GS06={_el(gp.gs, 6)} has no GE trailer before the next GS",
                                f"{ix_where()} GS06={_el(gp.gs, 6)}", "GE")
            ix.groups += 1
            gp = _Group(e, ix.groups)
        elif sid == "ST":
            if st is not None:
                yield _unclosed(st, "ST")
            if ix is None or gp is None:
                err = EnvelopeError("ST outside a functional group (no ISA/GS before it)", Location(name, f"byte {offset}", "GS"))
                yield Unit(location=err.location or Location(name), error=err)
                st = None
                continue
            gp.sets += 1
            version = _el(e, 3) or _el(gp.gs, 8)
            env = Envelope(name, _el(ix.isa, 5), _el(ix.isa, 6), _el(ix.isa, 8), _el(ix.isa, 13), _el(ix.isa, 9),
                           _el(ix.isa, 15), _el(gp.gs, 2), _el(gp.gs, 3), _el(gp.gs, 6), _el(gp.gs, 8),
                           _el(e, 1), _el(e, 2), version)
            kind, problem = _kind(_el(e, 1), version)
            st = _Set(env, kind, offset, LoopTracker(kind or "834"))
            if problem is not None:
                st.error = problem.at(env.location(Seg(1, e, "HEADER", delims.component)))
                st.segments = None
            elif st.segments is not None:
                st.segments.append(Seg(1, e, "HEADER", delims.component, delims.repetition))
        elif sid == "SE":
            if st is None:
                yield env_error("SE without a matching ST", ix_where(), "SE")
                continue
            st.count += 1
            cur, st = st, None
            yield from _close_set(cur, e, ix, gp.n if gp is not None else 0, path, delims, max_bodies, counts_reject)
            del cur  # its segments must not outlive their unit while the next set is read
        elif sid == "GE":
            if st is not None:
                yield _unclosed(st, "GE")
                st = None
            if gp is None:
                yield env_error("GE without a matching GS", ix_where(), "GE")
                continue
            where = f"{ix_where()} GS06={_el(gp.gs, 6)}"
            if _el(e, 2) != _el(gp.gs, 6):
                yield env_error(f"GE02 group control number {_el(e, 2)!r} does not match GS06 {_el(gp.gs, 6)!r}", where, "GE02")
            if _el(e, 1) != str(gp.sets) and gp.sets == 0:  # else each set carries it (_count_problems)
                yield env_error(f"GE01 says the group has {_el(e, 1)} transaction set(s), but {gp.sets} were found", where, "GE01")
            gp = None
        elif sid == "IEA":
            if st is not None:
                yield _unclosed(st, "IEA")
                st = None
            if ix is None:
                yield env_error("IEA without a matching ISA", "outside any interchange", "IEA")
                continue
            if gp is not None:
                yield env_error(f"functional group GS06={_el(gp.gs, 6)} has no GE trailer", ix_where(), "GE")
                gp = None
            if _el(e, 2) != _el(ix.isa, 13):
                yield env_error(f"IEA02 interchange control number {_el(e, 2)!r} does not match ISA13 {_el(ix.isa, 13)!r}", ix_where(), "IEA02")
            if _el(e, 1) != str(ix.groups) and ix.groups == 0:  # else each set carries it
                yield env_error(f"IEA01 says the interchange has {_el(e, 1)} functional group(s), but {ix.groups} were found", ix_where(), "IEA01")
            if ix.groups == 0:
                yield env_error("the interchange has no functional group (GS…GE): nothing to convert "
                                "(a TA1 interchange acknowledgment?)", ix_where(), "GS", UnsupportedError)
            if done is not None and not ix.skipped:
                done(ix.ordinal, ix.clean and ix.problem is None)
            ix = None
        else:
            stray.append(sid[:3])
        if st is not None and st.error is not None and ix is not None:
            ix.clean = False
        # a transaction set just closed may have failed: the interchange is then not clean
    if st is not None:
        yield _unclosed(st, "end of file")
    if gp is not None and ix is not None:
        trailing.append(EnvelopeError(f"functional group GS06={_el(gp.gs, 6)} has no GE trailer (file truncated?)",
                                      Location(name, ix_where(), "GE")))
    if ix is not None:
        trailing.append(EnvelopeError(f"interchange {ix_where()} has no IEA trailer (file truncated?)",
                                      Location(name, ix_where(), "IEA")))
    if stray:
        trailing.append(ParseError(
            f"{len(stray)} segment(s) outside any transaction set; every segment must sit between ST and SE",
            Location(name, "outside ST/SE")).quote("segment", stray[0]))
    if not any_isa and reader.fatal is None:
        trailing.append(ParseError("no ISA interchange header: this is not an X12 file, or it is truncated",
                                   Location(name, "start of file", "ISA")))
    for problem in trailing:
        yield Unit(location=problem.location or Location(name), error=problem)


def _unclosed(st: _Set, before: str) -> Unit[Transaction]:
    err = EnvelopeError(f"transaction set ST02={st.env.st02} has no SE trailer before {before} "
                        "(truncated or spliced file); it is rejected", st.env.location(None, "SE"))
    return Unit(location=st.env.location(), error=err)


def _count_problems(ix: _Interchange | None, group: int, env: Envelope) -> list[EnvelopeError]:
    """GE01 / IEA01 counts (from the first pass) that disagree with what the file holds: each
    rejects (or, with ``counts_reject`` off, warns on) every transaction set it counts."""
    scan = ix.scan if ix is not None else None
    if scan is None:
        return []
    out = []
    if group in scan.group_counts:
        said, found = scan.group_counts[group]
        out.append(EnvelopeError(
            f"GE01 says functional group GS06={env.gs06} has {said or '(nothing)'} transaction set(s), but it "
            f"holds {found}: a set may have been lost in transit, so every set of the group is rejected; "
            "ask the sender to send the group again", env.location(None, "GE01")))
    if scan.iea_count is not None:
        said, found = scan.iea_count
        out.append(EnvelopeError(
            f"IEA01 says interchange ISA13={env.isa13} has {said or '(nothing)'} functional group(s), but it "
            f"holds {found}: a group may have been lost in transit, so every set of the interchange is "
            "rejected; ask the sender to send the interchange again", env.location(None, "IEA01")))
    return out


def _close_set(
    st: _Set, e: list[str], ix: _Interchange | None, group: int, path: Path, delims: Delimiters, max_bodies: int,
    counts_reject: bool = True,
) -> Iterator[Unit[Transaction]]:
    env = st.env
    loc = env.location()
    se = Seg(st.count, e, "TRAILER", delims.component)
    if st.error is None:
        try:
            st.tracker.feed(se)
        except InputError as exc:
            st.error = exc.at(env.location(se))
    if st.error is None and _el(e, 2) != env.st02:
        st.error = EnvelopeError(f"SE02 transaction set control number {_el(e, 2)!r} does not match ST02 "
                                 f"{env.st02!r}", env.location(se, "SE02"))
    if st.error is None and ix is not None and ix.problem is not None:
        st.error = EnvelopeError(ix.problem.message, env.location(None, ix.problem.location.expression
                                                                   if ix.problem.location else "ISA"))
    if st.error is None and counts_reject and _el(e, 1) != str(st.count):
        st.error = EnvelopeError(
            f"SE01: the trailer says {_el(e, 1) or '(nothing)'} segments, but the transaction set has {st.count} "
            "(ST to SE): a segment may have been lost or added in transit, so the set is rejected (with "
            "--strictness ignore it is a warning)", env.location(se, "SE01"))
    counts = _count_problems(ix, group, env)
    if st.error is None and counts and counts_reject:
        st.error = counts[0]
    if st.error is None and ix is not None and ix.verdict is not None and ix.verdict.reject is not None:
        st.error = EnvelopeError(ix.verdict.reject, env.location(None, "ISA13"), code="duplicate")
    if st.error is not None:
        if ix is not None:
            ix.clean = False
        yield Unit(location=loc, error=st.error)
        return
    if ix is not None and ix.verdict is not None and ix.verdict.skip is not None:
        yield Unit(location=loc, skip=True, note=ix.verdict.skip, skip_detail=ix.verdict.detail)
        return
    warnings = [f"{c.location.expression if c.location else ''}: {c.message} (converted: strictness ignore)"
                for c in counts]
    if _el(e, 1) != str(st.count):
        warnings.append(f"SE01: the trailer says {_el(e, 1) or '(nothing)'} segments, but the transaction set "
                        f"has {st.count} (ST to SE); every segment was read, the count is the sender's error")
    bodies = st.tracker.bodies
    if st.segments is not None:
        st.segments.append(se)
        tx = Transaction(env, st.kind, st.segments, 1, 1, st.clp_total, 1, bodies, faults=st.tracker.faults)
        yield Unit(location=loc, record=tx, warnings=warnings)
        return
    yield from _parts(st, path, delims, max_bodies, warnings)


def _parts(st: _Set, path: Path, delims: Delimiters, max_bodies: int, warnings: list[str]) -> Iterator[Unit[Transaction]]:
    """Second pass over a large transaction set: parts of ``max_bodies`` claims with their context."""
    env, kind = st.env, st.kind
    total = st.tracker.bodies
    parts = max(1, -(-total // max_bodies))
    body_id = {"835": "CLP", "834": "INS"}.get(kind, "CLM")
    context_id = {"835": "LX"}.get(kind, "HL")
    header: list[Seg] = []
    context: dict[str, list[Seg]] = {}
    chunk: list[Seg] = []
    in_body = False
    started = False
    bodies = 0
    part = 1
    first = 1
    tracker = LoopTracker(kind)
    n = 0

    def unit(segs: list[Seg], last: int) -> Unit[Transaction]:
        where = env.where() + f", claims {first}-{last} of {total} (part {part} of {parts})"
        tx = Transaction(env, kind, segs, part, parts, st.clp_total, first, last - first + 1, faults=tracker.faults)
        return Unit(location=Location(env.file, where), record=tx, warnings=warnings if part == 1 else [])

    with open_utf8(path) as fh:
        for _, text in SegmentReader(fh, env.file, st.offset, delims):
            n += 1
            e = text.split(delims.element)
            seg = Seg(n, e, "", delims.component, delims.repetition)
            tracker.feed(seg) if n > 1 else setattr(seg, "loop", "HEADER")
            sid = e[0]
            if sid == "SE":
                chunk.append(seg)
                yield unit(chunk, bodies)
                return
            if sid == context_id:
                in_body = False
                started = True
                level = seg.get(3) if kind.startswith("837") else "2000"
                if level == "20":
                    context = {}
                elif level == "22":
                    context.pop("23", None)
                context[level] = [seg]
            elif sid == body_id:
                started = True
                in_body = True
                if bodies and (bodies - first + 1) >= max_bodies:
                    yield unit(chunk, bodies)
                    part += 1
                    first = bodies + 1
                    chunk = header + [s for level in sorted(context) for s in context[level]]
                bodies += 1
            elif not started:
                header.append(seg)
            elif not in_body and context:
                context[max(context)].append(seg)
            chunk.append(seg)
