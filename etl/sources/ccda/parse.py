"""Read C-CDA files safely, one ``ClinicalDocument`` at a time.

Hardening (OWASP XXE prevention cheat sheet, lxml "security" FAQ):

- a DOCTYPE is refused outright: C-CDA never needs one, and refusing it is what blocks external
  entities (``<!ENTITY x SYSTEM "file:///etc/passwd">``) and entity-expansion bombs (billion laughs)
  before any entity is declared, whatever libxml2 would do with them;
- the parser itself never resolves entities, loads a DTD or touches the network
  (``resolve_entities=False, load_dtd=False, no_network=True``) and keeps libxml2's size limits
  (``huge_tree=False``);
- a file larger than ``ccda_max_bytes`` (config, default :data:`DEFAULT_MAX_BYTES`) is refused
  before parsing, and the byte stream is counted while parsing.

Each ``ClinicalDocument`` is taken on its end event, so a file holding one document (the norm) or a
wrapper element holding several is read one document at a time. The bytes are fed to an
``XMLPullParser`` chunk by chunk rather than through ``iterparse``: when libxml2 meets a fatal error,
the events it parsed before the error in the same chunk are still drained and converted (libxml2
2.14 raises from ``iterparse`` before handing them out, which cost the good document before a
malformed one).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from etl.config import JobConfig, Strictness
from etl.errors import InputError, Location, ParseError, UnsupportedError
from etl.sources.base import Unit
from etl.sources.ccda.model import V3_NS, XSI_TYPE, Document, local
from etl.sources.encoding import Utf8Transcoder, open_utf8

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CHUNK = 64 * 1024
# XML declaration, comments and processing instructions, then a DOCTYPE: the prolog of a document that
# declares a DTD. Checked on the first bytes, before libxml2 sees them: with an entity used in the root
# element's attributes, libxml2 2.14 fails ("amplification factor exceeded") before any event that
# would show the DOCTYPE.
# Each part matches one way only ("?>" ends a PI, "-->" a comment): a lazy ".*?" there could also run on
# to a later "?>", and a prolog without a DOCTYPE then backtracked for seconds (the CCD sample's 14 s).
_DOCTYPE_PROLOG = re.compile(r"\s*(?:<\?(?:[^?]|\?(?!>))*\?>\s*|<!--(?:[^-]|-(?!->))*-->\s*)*<!DOCTYPE")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
CLINICAL_DOCUMENT = f"{{{V3_NS}}}ClinicalDocument"


def max_bytes(config: JobConfig) -> int:
    """The configured document size limit (``JobConfig.ccda_max_bytes``)."""
    return config.ccda_max_bytes or DEFAULT_MAX_BYTES


class _Limited(io.RawIOBase):
    """A read-only stream that fails once more than ``limit`` bytes were read."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise _TooLarge()
        buffer[: len(data)] = data
        return len(data)


class _TooLarge(Exception):
    pass


def _parser_options() -> dict[str, Any]:
    return {
        "resolve_entities": False,
        "load_dtd": False,
        "no_network": True,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
        "dtd_validation": False,
    }


def parse_bytes(data: bytes, file: str = "<bytes>") -> Document:
    """One document from memory (tests, the bench); raises :class:`InputError`."""
    docs = list(_documents(io.BytesIO(data), file, len(data) + 1))
    if not docs:
        raise UnsupportedError("the input holds no ClinicalDocument", Location(file))
    first = docs[0]
    if first.error is not None:
        raise first.error
    assert first.record is not None
    return first.record


def read_documents(path: Path, config: JobConfig) -> Iterator[Unit[Document]]:
    """The documents of ``path`` as units; a file that cannot be read is one error unit."""
    limit = max_bytes(config)
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield Unit(Location(path.name), error=ParseError(f"cannot read the file: {exc.strerror}"))
        return
    if size > limit:
        yield Unit(Location(path.name), error=InputError(
            f"the file is {size} bytes, over the C-CDA limit of {limit} bytes (ccda_max_bytes)",
            code="too-long"))
        return
    try:
        fh = open_utf8(path)
    except ParseError as exc:
        yield Unit(Location(path.name), error=exc.at(Location(path.name)))
        return
    with fh:
        # libxml2 reads UTF-16 by itself but not UTF-32 with a BOM: every wide encoding is
        # transcoded to UTF-8 (streamed), and the parser told so over the declaration's "UTF-16".
        utf8 = isinstance(getattr(fh, "raw", None), Utf8Transcoder)
        yield from _documents(_Limited(fh, limit), path.name, limit, config.strictness, "UTF-8" if utf8 else None)


def _documents(stream: Any, file: str, limit: int, strictness: Strictness = Strictness.WARN,
               encoding: str | None = None) -> Iterator[Unit[Document]]:
    loc = Location(file)
    found = 0
    reported = 0  # libxml2 errors already turned into error records
    checked = False
    last = ""  # the id of the last document read, to place an error that follows it
    events: Any = None
    try:
        events = etree.XMLPullParser(events=("start", "end"), encoding=encoding, **_parser_options())
        for event, el in _pull(stream, events):
            if not checked:
                checked = True
                _refuse_doctype(el, file)
                if el.tag not in (CLINICAL_DOCUMENT, "ClinicalDocument") and not _may_wrap(el):
                    raise UnsupportedError(
                        f"not a C-CDA document: the root element is {_name(el)!r}, expected "
                        f"ClinicalDocument in namespace {V3_NS}", loc)
            if event == "end" and el.tag in (CLINICAL_DOCUMENT, "ClinicalDocument"):
                warnings = []
                if el.tag == "ClinicalDocument":
                    _into_v3(el)
                    warnings.append("ClinicalDocument declares no namespace; read as urn:hl7-org:v3")
                doc = Document(file=file, root=el, index=found,
                               digest=hashlib.sha256(etree.tostring(el, method="c14n")).hexdigest())
                found += 1
                last = doc.doc_id_text
                where = f"document {last}"
                # libxml2 reports some errors (an undeclared namespace prefix) only when the whole
                # stream ends; ask now, so the document is rejected once instead of converted and
                # then reported again as a second error record.
                # lxml hands out the events of a whole chunk at once, so the log may already hold
                # errors of the *next* document: keep those for it (see ``_own_errors``).
                errors = _errors(events)
                new = _own_errors(errors[reported:], el)
                reported += len(new)
                fatal = [e for e in new if not _undeclared_xsi(e)]
                if new and not fatal and strictness is not Strictness.RAISE:
                    _declare_xsi(el)
                    if strictness is Strictness.WARN:
                        warnings.append("the xsi: prefix is used without its declaration (xmlns:xsi); "
                                        "read as the XML Schema instance namespace")
                    new = []
                if new:
                    first = (fatal or new)[0]
                    yield Unit(Location(file, where), error=ParseError(
                        f"not well-formed XML: libxml2 {first.type_name} at line {first.line}, column {first.column}",
                        Location(file, where)).quote("libxml2", str(first.message)))
                else:
                    yield Unit(Location(file, where), record=doc, warnings=warnings)
                    yield from _broken_sections(doc, file)
                if el.getparent() is not None:
                    el.clear()
    except InputError as exc:
        yield Unit(loc, error=exc.at(loc))
        return
    except _DoctypeRefused:
        yield Unit(loc, error=_doctype_error(file))
        return
    except _TooLarge:
        yield Unit(loc, error=InputError(
            f"the document is over the C-CDA limit of {limit} bytes (ccda_max_bytes)", loc, code="too-long"))
        return
    except etree.XMLSyntaxError as exc:
        if found and len(_errors(events)) <= reported:
            return  # the late report of an error a document was already rejected for
        # The documents before the error were yielded already; this one names where it stopped.
        at = Location(file, f"the document after document {last}") if last else loc
        rest = "; the rest of the file could not be read (fix it and send the file again)" if found else ""
        yield Unit(at, error=ParseError(f"not well-formed XML: {_syntax_message(exc)}{rest}", at).quote(
            "libxml2", str(getattr(exc, "msg", "") or "")))
        return
    if not found:
        yield Unit(loc, error=UnsupportedError("not a C-CDA document: no ClinicalDocument element", loc))


def _pull(stream: Any, parser: Any) -> Iterator[tuple[str, Any]]:
    """The parser's events over ``stream``. A syntax error met while feeding comes after the events
    parsed before it in the same chunk; one met at the end (``close``: a truncated file) comes
    alone, because lxml then ends the open elements with events of its own that no tag closed."""
    first = True
    while chunk := stream.read(CHUNK):
        if first:
            first = False
            if _declares_doctype(chunk):
                raise _DoctypeRefused()
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError:
            yield from parser.read_events()
            raise
        yield from parser.read_events()
    parser.close()
    yield from parser.read_events()


class _DoctypeRefused(Exception):
    pass


def _declares_doctype(head: bytes) -> bool:
    """True when the document's first bytes hold a DOCTYPE before the root element."""
    encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), "latin-1")  # markup is ASCII
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    return _DOCTYPE_PROLOG.match(text) is not None


def _errors(events: Any) -> list[Any]:
    """The errors (not warnings) libxml2 has logged so far on this parse."""
    if events is None:
        return []
    return [e for e in events.feed_error_log if e.level >= etree.ErrorLevels.ERROR]


def _own_errors(errors: list[Any], document: Any) -> list[Any]:
    """The leading ``errors`` that belong to ``document``, whose end tag was just read.

    A fatal (well-formedness) error stops libxml2's events, so one logged before this end event was
    met *after* the end tag, in a later document; a recoverable one (an undeclared prefix) belongs
    here when it is on or before this document's last element line.
    """
    if not errors:
        return []  # the usual case: no walk over the document's elements
    last_line = max((e.sourceline or 0 for e in document.iter()), default=0)
    own = []
    for error in errors:
        if error.level >= etree.ErrorLevels.FATAL or (error.line or 0) > last_line:
            break
        own.append(error)
    return own


def _undeclared_xsi(error: Any) -> bool:
    return "Namespace prefix xsi " in str(error.message) and "is not defined" in str(error.message)


def _declare_xsi(root: Any) -> None:
    # Documents that use xsi:type without declaring xmlns:xsi are common in the wild; libxml2 keeps
    # the attribute under its literal name. Move it to the namespace the mappers read.
    for el in root.iter():
        literal = el.attrib.pop("xsi:type", None) if isinstance(el.tag, str) else None
        if literal is not None:
            el.set(XSI_TYPE, literal)


def _into_v3(root: Any) -> None:
    # Some published examples omit xmlns="urn:hl7-org:v3"; CDA has no other namespace-less content.
    for el in root.iter():
        if isinstance(el.tag, str) and not el.tag.startswith("{"):
            el.tag = f"{{{V3_NS}}}{el.tag}"


def _broken_sections(doc: Document, file: str) -> Iterator[Unit[Document]]:
    # The pipeline maps a unit before asking for the next one, so by now ``to_fhir`` has run on
    # ``doc`` and recorded the sections it could not read: each becomes an error record of its own.
    for error in doc.broken:
        yield Unit(error.location or Location(file), error=error)
    doc.broken = []


def _refuse_doctype(el: Any, file: str) -> None:
    info = el.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.system_url or info.public_id:
        raise _doctype_error(file)


def _doctype_error(file: str) -> ParseError:
    return ParseError("the document declares a DTD (<!DOCTYPE>): refused, because C-CDA needs none and DTDs carry "
                      "external entities (XXE) and entity-expansion bombs", Location(file), code="security")


def _may_wrap(el: Any) -> bool:
    # A non-CDA wrapper element may hold several ClinicalDocuments; it must be in no namespace or v3.
    return isinstance(el.tag, str) and local(el) not in ("ClinicalDocument",) and (
        el.tag.startswith(f"{{{V3_NS}}}") or not el.tag.startswith("{")) and local(el) in (
        "ClinicalDocuments", "documents", "batch", "Batch")


def _name(el: Any) -> str:
    tag = el.tag if isinstance(el.tag, str) else "?"
    return tag.replace(f"{{{V3_NS}}}", "v3:") if tag.startswith("{") else tag


def _syntax_message(exc: Any) -> str:
    # libxml2's text quotes the offending markup, which in a broken document is often data (text
    # read as a tag name: "tag mismatch: John line 1 and name"): the message names the error type
    # and the position only; the text goes to the record's excerpt.
    line = getattr(exc, "lineno", None) or (exc.position[0] if getattr(exc, "position", None) else None)
    last = exc.error_log.last_error if getattr(exc, "error_log", None) else None
    kind = f"libxml2 {last.type_name}" if last is not None else "the XML parser stopped"
    return f"{kind} at line {line}" if line else kind
