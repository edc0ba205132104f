"""Text encodings of input files: byte-order marks and XML's wide encodings, for every format.

The readers work on bytes in an ASCII-compatible encoding (X12 and HL7 v2 split on delimiter
bytes; their text is UTF-8 or Windows-1252). A file in UTF-16 or UTF-32 is transcoded to UTF-8 as
it is read, one chunk at a time (an incremental decoder, never the whole file), so the readers stay
as they are and memory stays at a chunk.

How the encoding is told (Unicode 15 §23.8 "Specials: byte order mark"; XML 1.0 5th ed. Appendix F
"Autodetection of character encodings"):

- a byte-order mark: ``00 00 FE FF`` UTF-32BE, ``FF FE 00 00`` UTF-32LE, ``FE FF`` UTF-16BE,
  ``FF FE`` UTF-16LE, ``EF BB BF`` UTF-8 (UTF-32LE is checked before UTF-16LE, whose BOM it starts with);
- without a BOM, XML's own autodetection from the first characters ``<?`` (``00 00 00 3C`` UTF-32BE,
  ``3C 00 00 00`` UTF-32LE, ``00 3C 00 3F`` UTF-16BE, ``3C 00 3F 00`` UTF-16LE): a C-CDA whose
  declaration says ``encoding="UTF-16"``. An ASCII-compatible XML declaration (``ISO-8859-1``,
  ``windows-1252``) is left to the XML parser, which honours it.

Byte offsets in error records of a transcoded file count the UTF-8 bytes the reader saw, not the
file's own bytes (the line numbers of HL7 v2 and C-CDA records are the same either way).
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import IO, Any

from etl.errors import Location, ParseError

CHUNK = 1 << 20

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF8, "utf-8"),
)
# XML 1.0 Appendix F.1, "without a byte order mark": '<' (and '?') in a wide encoding.
XML_WIDE: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
)


def detect_encoding(head: bytes) -> tuple[str | None, int]:
    """``(codec, BOM length)`` of a file starting with ``head``; codec ``None`` when the bytes are
    read as they are (no BOM, ASCII-compatible), ``"utf-8"`` for a UTF-8 BOM."""
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    for start, codec in XML_WIDE:
        if head.startswith(start):
            return codec, 0
    return None, 0


def read_head(fh: IO[bytes], chars: int = 4096) -> bytes:
    """The first bytes of an open file for format detection: ``chars`` bytes, or as many as
    ``chars`` characters take in UTF-16/32 (a C-CDA's root element may come after a long comment)."""
    head = fh.read(chars)
    codec, _ = detect_encoding(head)
    width = 4 if codec in ("utf-32-le", "utf-32-be") else 2 if codec in ("utf-16-le", "utf-16-be") else 1
    return head + fh.read(chars * (width - 1)) if width > 1 else head


def utf8_head(head: bytes) -> bytes:
    """The first bytes of a file as UTF-8 without a BOM, for a source's ``sniff``: UTF-16/32 text
    transcoded (a character cut at the end of ``head`` is dropped), anything else as it is."""
    codec, skip = detect_encoding(head)
    if codec is None:
        return head
    if codec == "utf-8":
        return head[skip:]
    return head[skip:].decode(codec, errors="ignore").encode("utf-8")


def open_utf8(path: Path) -> IO[bytes]:
    """``path`` opened for reading as bytes in an ASCII-compatible encoding: the file itself (a
    UTF-8 BOM left for the reader to skip, as before), or for UTF-16/32 a seekable stream of its
    text in UTF-8, transcoded chunk by chunk. Decoding errors raise :class:`ParseError`."""
    fh = open(path, "rb")  # noqa: SIM115 - handed to the caller, who closes it
    try:
        codec, skip = detect_encoding(fh.read(4))
        fh.seek(0)
        if codec is None or codec == "utf-8":
            return fh
        return io.BufferedReader(Utf8Transcoder(fh, codec, skip, path.name), CHUNK)
    except BaseException:
        fh.close()
        raise


class Utf8Transcoder(io.RawIOBase):
    """A read-only raw stream of ``raw``'s text (in ``codec``, after ``skip`` BOM bytes) as UTF-8.

    ``seek`` and ``tell`` count UTF-8 bytes. Seeking forward reads on; seeking back starts over
    from the BOM (the X12 reader goes back once per oversized transaction set), so memory stays
    at one chunk whatever the file size.
    """

    def __init__(self, raw: IO[bytes], codec: str, skip: int, name: str) -> None:
        super().__init__()
        self._raw = raw
        self._codec = codec
        self._skip = skip
        self._name = name
        self._rewind()

    def _rewind(self) -> None:
        self._raw.seek(self._skip)
        self._decoder = codecs.getincrementaldecoder(self._codec)("strict")
        self._buf = b""
        self._off = 0  # read position in _buf
        self._pos = 0  # UTF-8 bytes handed out so far
        self._read = self._skip  # file bytes decoded so far
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a transcoded input seeks from its start only")
        if offset < self._pos:
            self._rewind()
        while self._pos < offset:
            if not self._fill():
                break
            step = min(offset - self._pos, len(self._buf) - self._off)
            self._off += step
            self._pos += step
        return self._pos

    def _fill(self) -> bool:
        """Make unread bytes available in ``_buf``; False at the end of the file."""
        while self._off >= len(self._buf):
            if self._eof:
                return False
            data = self._raw.read(CHUNK)
            self._eof = not data
            try:
                text = self._decoder.decode(data, final=self._eof)
            except UnicodeDecodeError as exc:
                at = self._read + exc.start
                raise ParseError(
                    f"the file is not valid {self._codec.upper()} (the encoding its byte-order mark or XML "
                    f"start declares) at byte {at}; the rest of the file cannot be read",
                    Location(self._name, f"byte {at}"), code="structure") from None
            self._read += len(data)
            self._buf, self._off = text.encode("utf-8"), 0
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._fill():
            return 0
        n = min(len(buffer), len(self._buf) - self._off)
        buffer[:n] = self._buf[self._off:self._off + n]
        self._off += n
        self._pos += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()
