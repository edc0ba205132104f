"""A fast path for the common DICOM file: only the mapped attributes, straight from the bytes.

pydicom's ``dcmread`` builds every element of the header and converts each value through its hooks;
the DICOM source needs about thirty string attributes. For a Part 10 file (preamble and ``DICM``)
in Implicit or Explicit VR Little Endian, or any encapsulated (compressed) transfer syntax, whose
header fits in the first :data:`HEAD_BYTES`, this module walks the data elements itself (PS3.5 7.1),
skips every value it does not map, and decodes the rest with pydicom's character-set code
(``pydicom.charset``: ISO 2022 escapes, GB18030, UTF-8, Latin-1, ...). Anything else (big endian,
deflate, no preamble, a DICOMDIR, a header longer than the head read, an odd element) returns None
and the file is read by pydicom (:mod:`etl.sources.dicom.parse`); tests compare the two paths on
every sample file.

https://dicom.nema.org/medical/dicom/current/output/chtml/part05/chapter_7.html
"""

from __future__ import annotations

import struct
from typing import Any

from etl.errors import ParseError
from etl.sources.dicom.model import (
    CODE_FIELDS,
    NAME_FIELDS,
    NAMES_FIELDS,
    TEXT_FIELDS,
    TITLE_CONCEPT,
    TITLE_FALLBACK,
    TITLE_TEXT,
    Code,
    Instance,
    PersonName,
    build_instance,
)

HEAD_BYTES = 64 * 1024
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
_NOT_FAST = {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}  # explicit big endian, deflated
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_PIXEL_DATA = 0x7FE00010
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_H = struct.Struct("<HH")
_HHI = struct.Struct("<HHI")
_I = struct.Struct("<I")

# Top-level attributes read (the Instance's fields: etl.sources.dicom.model), and sequences.
TEXT_TAGS = frozenset({0x00080005, *TITLE_TEXT, *TITLE_FALLBACK, *NAME_FIELDS.values(), *NAMES_FIELDS.values(),
                       *(tag for tags in TEXT_FIELDS.values() for tag in tags)})
SEQ_TAGS = frozenset({*CODE_FIELDS.values(), TITLE_CONCEPT})
ITEM_TAGS = frozenset({0x00080100, 0x00080102, 0x00080104, 0x00080119, 0x00080120})
_DIRECTORY_RECORDS = 0x00041220


class _Fallback(Exception):
    """Not a file for the fast path: read it with pydicom."""


def read_fast(head: bytes, size: int) -> Instance | None:
    """The instance of a file whose first bytes are ``head`` (all of it when ``size <= len(head)``),
    or None when pydicom must read it; :class:`ParseError` when the file is cut off."""
    if len(head) < 144 or head[128:132] != b"DICM":
        return None
    try:
        return _read(head, size)
    except _Fallback:
        return None
    except (struct.error, IndexError, ValueError, LookupError):
        return None  # something odd: pydicom decides


def _read(data: bytes, size: int) -> Instance:
    whole = size <= len(data)
    pos, syntax = _meta(data)
    if syntax in _NOT_FAST:
        raise _Fallback
    implicit = syntax == IMPLICIT_LE
    values: dict[int, bytes] = {}
    seqs: dict[int, list[dict[int, bytes]]] = {}
    end = len(data)
    while True:
        if pos >= end:
            if whole:
                break  # the file ends after an element: no pixel data (SR, RT plan, waveform...)
            raise _Fallback  # the head read ends here, the header may go on
        if pos + 8 > end:
            _short(whole)
        tag, _vr, length, pos = _element(data, pos, implicit)
        if tag >= _PIXEL_DATA:
            if tag == _PIXEL_DATA and length != _UNDEFINED and pos + length > size:
                raise ParseError(f"truncated: Pixel Data (7FE0,0010) declares {length} bytes, the file holds "
                                 f"{max(size - pos, 0)} after its header")
            break
        if tag == _DIRECTORY_RECORDS:
            raise _Fallback  # a DICOMDIR
        if length == _UNDEFINED:
            if tag in SEQ_TAGS:
                items, pos = _items(data, pos, implicit, None)
                seqs[tag] = items
            else:
                pos = _skip_undefined(data, pos, implicit)
            continue
        if pos + length > end:
            if whole:
                raise ParseError(f"truncated: the last header element declares {length} bytes, the file holds "
                                 f"{max(size - pos, 0)}")
            raise _Fallback  # the header goes on past the head read
        if tag in TEXT_TAGS:
            values[tag] = data[pos:pos + length]
        elif tag in SEQ_TAGS:
            seqs[tag], _ = _items(data, pos, implicit, pos + length)
        pos += length
    return _instance(values, seqs)


def _short(whole: bool) -> None:
    if whole:
        raise ParseError("truncated: the file ends inside a data element of its header")
    raise _Fallback


def _meta(data: bytes) -> tuple[int, str]:
    """The end of the File Meta Information (always explicit VR little endian) and its transfer syntax."""
    pos, syntax = 132, ""
    while pos + 8 <= len(data):
        group, _ = _H.unpack_from(data, pos)
        if group != 0x0002:
            break
        tag, _vr, length, value = _element(data, pos, False)
        if length == _UNDEFINED:
            raise _Fallback
        if tag == 0x00020010:
            syntax = data[value:value + length].rstrip(b"\x00 ").decode("ascii")
        pos = value + length
    if not syntax:
        raise _Fallback
    return pos, syntax


def _element(data: bytes, pos: int, implicit: bool) -> tuple[int, bytes, int, int]:
    """(tag, VR or b"", value length, value offset) of the element header at ``pos``."""
    group, elem = _H.unpack_from(data, pos)
    tag = group << 16 | elem
    if implicit or group == 0xFFFE:  # item and delimiter tags have no VR in any syntax
        return tag, b"", _I.unpack_from(data, pos + 4)[0], pos + 8
    vr = data[pos + 4:pos + 6]
    if vr in _LONG_VRS:
        return tag, vr, _I.unpack_from(data, pos + 8)[0], pos + 12
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        raise _Fallback  # not an explicit VR: let pydicom judge
    return tag, vr, struct.unpack_from("<H", data, pos + 6)[0], pos + 8


def _items(data: bytes, pos: int, implicit: bool, stop: int | None) -> tuple[list[dict[int, bytes]], int]:
    """The code items of a sequence value starting at ``pos`` (defined length up to ``stop``, else
    up to its delimiter); returns them and the offset after the sequence."""
    items: list[dict[int, bytes]] = []
    while stop is None or pos < stop:
        tag, _, length, pos = _element(data, pos, True)
        if tag == _SEQ_END:
            return items, pos
        if tag != _ITEM:
            raise _Fallback
        item: dict[int, bytes] = {}
        item_stop = None if length == _UNDEFINED else pos + length
        while item_stop is None or pos < item_stop:
            tag, _vr, vlen, pos = _element(data, pos, implicit)
            if tag == _ITEM_END:
                break
            if vlen == _UNDEFINED:
                pos = _skip_undefined(data, pos, implicit)
                continue
            if pos + vlen > len(data):
                raise _Fallback
            if tag in ITEM_TAGS:
                item[tag] = data[pos:pos + vlen]
            pos += vlen
        items.append(item)
    return items, pos


def _skip_undefined(data: bytes, pos: int, implicit: bool) -> int:
    """The offset after an undefined-length value (a sequence of items, nested to any depth)."""
    while True:
        tag, _, length, pos = _element(data, pos, True)
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Fallback
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # an undefined-length item: its elements up to the item delimiter
            tag, _vr, vlen, pos = _element(data, pos, implicit)
            if tag == _ITEM_END:
                break
            pos = _skip_undefined(data, pos, implicit) if vlen == _UNDEFINED else pos + vlen
            if pos > len(data):
                raise _Fallback


def _instance(values: dict[int, bytes], seqs: dict[int, list[dict[int, bytes]]]) -> Instance:
    charset = values.get(0x00080005, b"").decode("ascii", "replace").strip(" \x00")
    encodings = _encodings(charset)

    def text(tag: int, source: dict[int, bytes] = values) -> str:
        raw = source.get(tag)
        if not raw:
            return ""
        return _decode(raw, encodings).strip(" \x00")

    def names(tag: int) -> list[PersonName]:
        raw = values.get(tag)
        if not raw:
            return []
        out = [_pn(part, encodings) for part in _split_pn(raw, encodings)]
        return [pn for pn in out if any(pn)]

    def codes(tag: int) -> list[Code]:
        out: list[Code] = []
        for item in seqs.get(tag, []):
            code = (text(0x00080100, item) or text(0x00080119, item) or text(0x00080120, item),
                    text(0x00080102, item), text(0x00080104, item))
            if any(code):
                out.append(code)
        return out

    return build_instance(text, names, codes)


_ENCODINGS: dict[str, list[str]] = {}


def _encodings(charset: str) -> list[str]:
    """Python codecs for a SpecificCharacterSet value (cached; pydicom's own table)."""
    found = _ENCODINGS.get(charset)
    if found is None:
        if charset in ("", "ISO_IR 6"):
            found = ["iso8859"]  # pydicom's default repertoire (ASCII, read leniently)
        else:
            from pydicom.charset import convert_encodings

            found = convert_encodings([c.strip() for c in charset.split("\\")])
        _ENCODINGS[charset] = found
    return found


def _decode(raw: bytes, encodings: list[str]) -> str:
    if raw.isascii() and b"\x1b" not in raw:
        return raw.decode("ascii")
    from pydicom.charset import decode_bytes

    return str(decode_bytes(raw, encodings, {0x5C}))


def _split_pn(raw: bytes, encodings: list[str]) -> list[bytes | Any]:
    """The values of a PN element: split on backslash when that byte cannot be part of a character
    (ASCII text); else pydicom's own reading (ISO 2022 and GB18030 have 0x5C inside characters)."""
    if raw.isascii() and b"\x1b" not in raw:
        return raw.split(b"\\")
    from pydicom.multival import MultiValue
    from pydicom.values import convert_PN

    value = convert_PN(raw.rstrip(b" \x00"), encodings)
    return list(value) if isinstance(value, MultiValue) else [value]


def _pn(raw: bytes | Any, encodings: list[str]) -> PersonName:
    if isinstance(raw, bytes) and raw.isascii() and b"\x1b" not in raw:
        groups = raw.decode("ascii").strip(" \x00").split("=")
    else:  # a pydicom PersonName already (see _split_pn)
        pn: Any = raw
        groups = [pn.alphabetic or "", pn.ideographic or "", pn.phonetic or ""]
    groups = (groups + ["", ""])[:3]
    a, b, c = (g.strip() if g.strip("^ ") else "" for g in groups)
    return (a, b, c)
