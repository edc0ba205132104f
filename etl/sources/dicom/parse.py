"""Read DICOM headers, never pixel data: files, files without preamble, zip archives, DICOMDIR sets.

Each composite instance is one unit (:class:`etl.sources.dicom.model.Read`). Headers are read with
pydicom's ``dcmread(stop_before_pixels=True, defer_size=...)``: the Pixel Data (7FE0,0010) element
is never read, and other large values (waveforms, overlays, private blobs) are left on disk.

- **Part 10 files** (PS3.10 7.1: 128-byte preamble, ``DICM``, File Meta Information) are read as
  they are. **Data sets without the preamble** (what older PACS exports and some devices write) are
  read when their first bytes are a plausible data element of group 0002 or 0008 (either byte
  order, explicit or implicit VR); any other file is not DICOM and is an error record naming it.
- **Truncated files**: an end of file inside a header element (pydicom warns and keeps what it had)
  or a Pixel Data element longer than what is left of the file is an error record naming the file.
- **Zip archives**: every member is read as a file of its own (``archive.zip!member`` in records).
- **DICOMDIR** (PS3.10 8, Media Storage Directory SOP Class 1.2.840.10008.1.3.10): the files its
  directory records reference (ReferencedFileID (0004,1500)) are read, relative to its folder; a
  referenced file that is missing is an error record naming the DICOMDIR and the entry.

pydicom reports odd values with ``warnings`` and its ``pydicom`` logger, quoting the value: both
are kept out of fhirflow's logs (a patient's name or birth date must not reach them), and the
values are validated by fhirflow itself when mapped (:mod:`etl.sources.dicom.validate`).
"""

from __future__ import annotations

import logging
import os
import struct
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName as PydicomPersonName

from etl.errors import Location, ParseError
from etl.sources.base import Unit
from etl.sources.dicom.fastread import HEAD_BYTES, read_fast
from etl.sources.dicom.model import Code, Instance, PersonName, Read, build_instance

log = logging.getLogger(__name__)
# pydicom logs bad values verbatim ("Invalid value for VR DA: '19630815'"): they must not reach the
# application's handlers. Warnings are caught per read (see _quiet).
logging.getLogger("pydicom").propagate = False

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # PS3.4 Annex F, the DICOMDIR's SOP class
DEFER_SIZE = 4096  # values larger than this stay on disk until read (none of the mapped ones are)
_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD",
        b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI",
        b"UL", b"UN", b"UR", b"US", b"UT", b"UV"}
_PIXEL_DATA = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")  # (7FE0,0010) little and big endian
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"UN"}  # explicit VRs with a 4-byte length


class Reader:
    """Reads the files of one run; remembers which it read (a DICOMDIR and the folder walk reach the
    same files: each is read once)."""

    def __init__(self) -> None:
        self._read: set[str] = set()  # paths read in this run (normalised)
        self._via_dicomdir: set[str] = set()

    def read(self, path: Path, name: str) -> Iterator[Unit[Read]]:
        """The units of the file at ``path`` (reported as ``name``)."""
        real = os.path.normpath(path)  # the walk and a DICOMDIR in it name a file alike
        if real in self._via_dicomdir:
            yield Unit(Location(name), skip=True, note="already read through its DICOMDIR")
            return
        self._read.add(real)
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == b"PK\x03\x04":
            yield from self._zip(path, name)
            return
        yield from self._file(path, name, Location(name))

    def _file(self, path: Path, name: str, where: Location) -> Iterator[Unit[Read]]:
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head = fh.read(HEAD_BYTES)
                inst = read_fast(head, size)  # the common file, without building a pydicom Dataset
                if inst is not None:
                    yield Unit(where, record=Read(inst, name))
                    return
                fh.seek(0)
                ds = read_header(fh, size, defer=True)
        except ParseError as exc:
            yield Unit(where, error=exc.at(where))
            return
        if is_dicomdir(ds):
            yield from self._dicomdir(path, name, ds)
            return
        yield make_unit(ds, name, where)

    def _zip(self, path: Path, name: str) -> Iterator[Unit[Read]]:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError):
            yield Unit(Location(name), error=ParseError("a zip archive that cannot be opened (damaged or cut off)"))
            return
        with archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                member = f"{name}!{info.filename}"
                where = Location(name, f"zip member {info.filename}")
                try:
                    with archive.open(info) as fh:
                        inst = read_fast(fh.read(HEAD_BYTES), info.file_size)
                    if inst is not None:
                        yield Unit(where, record=Read(inst, member))
                        continue
                    with archive.open(info) as fh:
                        ds = read_header(fh, info.file_size, defer=False)  # a member cannot be re-opened by name
                except ParseError as exc:
                    yield Unit(where, error=exc)
                    continue
                except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError):
                    # CRC mismatch, a cut-off member, an unsupported compression or encryption
                    yield Unit(where, error=ParseError("a zip member that cannot be read (damaged, encrypted or "
                                                       "compressed with an unsupported method)"))
                    continue
                if is_dicomdir(ds):  # its files are members of the same archive, each read on its own
                    yield Unit(where, skip=True, note="a DICOMDIR in a zip archive: its files are read as members")
                    continue
                yield make_unit(ds, member, where)

    def _dicomdir(self, path: Path, name: str, ds: Dataset) -> Iterator[Unit[Read]]:
        base = path.parent
        prefix = os.path.dirname(name)
        records = _quiet(lambda: list(ds.get("DirectoryRecordSequence") or []))
        for i, record in enumerate(records, 1):
            ref = _quiet(lambda r=record: r.get("ReferencedFileID"))
            if not ref:
                continue  # PATIENT, STUDY and SERIES records reference no file
            parts = [str(p) for p in ref] if isinstance(ref, (list, MultiValue)) else [str(ref)]
            rel = "/".join(parts)
            where = Location(name, f"directory record {i} ({rel})", "(0004,1500)")
            if any(p in ("", ".", "..") or "/" in p or "\\" in p for p in parts):
                yield Unit(where, error=ParseError("ReferencedFileID (0004,1500) is not a path inside the "
                                                   "DICOMDIR's folder: not read"))
                continue
            target = base.joinpath(*parts)
            if not target.is_file():  # media file IDs are upper case; some copies lower-cased them
                lower = base.joinpath(*[p.lower() for p in parts])
                target = lower if lower.is_file() else target
            if not target.is_file():
                yield Unit(where, error=ParseError("the file this DICOMDIR entry references (0004,1500) is "
                                                   "missing", code="not-found"))
                continue
            real = os.path.normpath(target)
            if real in self._read or real in self._via_dicomdir:
                continue  # read already (the folder walk reached it first): once is enough
            self._via_dicomdir.add(real)
            member = os.path.join(prefix, *parts) if prefix else "/".join(parts)
            yield from self._file(target, member, where)


def is_dicomdir(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    sop = str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else ""
    return sop == MEDIA_STORAGE_DIRECTORY or bool(0x00041220 in ds)


def looks_like_dicom(head: bytes) -> bool:
    """A Part 10 file (``DICM`` after the preamble) or a data set without one: the first element is
    of group 0002 or 0008 (little or big endian) with an explicit VR or a plausible implicit length."""
    if head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group_le, group_be = struct.unpack("<H", head[:2])[0], struct.unpack(">H", head[:2])[0]
    if 0x0002 not in (group_le, group_be) and 0x0008 not in (group_le, group_be):
        return False
    if head[4:6] in _VRS:
        return True
    length: int = struct.unpack("<I" if group_le in (2, 8) else ">I", head[4:8])[0]
    return length < 1024  # the first elements of these groups are short (lengths, CS, UI)


def read_header(fh: IO[bytes], size: int, *, defer: bool) -> Dataset:
    """The data set of ``fh`` (``size`` bytes) up to its Pixel Data; :class:`ParseError` if it is not
    DICOM or is cut off."""
    head = fh.read(132)
    fh.seek(0)
    if not looks_like_dicom(head):
        raise ParseError("not a DICOM file: no 'DICM' prefix after a 128-byte preamble, and no DICOM data set "
                         "at its start")
    force = head[128:132] != b"DICM"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = dcmread(fh, stop_before_pixels=True, defer_size=DEFER_SIZE if defer else None, force=force)
        except (InvalidDicomError, EOFError, struct.error, ValueError, KeyError, IndexError, NotImplementedError,
                OverflowError, TypeError) as exc:
            raise ParseError(f"not a readable DICOM data set ({type(exc).__name__} from pydicom)") from None
        pos = fh.tell()
        tail = fh.read(12)
    if any("End of file" in str(w.message) or "end of file" in str(w.message) for w in caught):
        raise ParseError("truncated: the file ends inside a data element of its header")
    if tail[:4] in _PIXEL_DATA:
        big = tail[:4] == _PIXEL_DATA[1]
        if tail[4:6] in _LONG_VRS:
            (length,) = struct.unpack(">I" if big else "<I", tail[8:12])
            header = 12
        else:  # implicit VR: a 4-byte length right after the tag
            (length,) = struct.unpack(">I" if big else "<I", tail[4:8])
            header = 8
        if length != 0xFFFFFFFF and pos + header + length > size:
            raise ParseError(f"truncated: Pixel Data (7FE0,0010) declares {length} bytes, the file holds "
                             f"{max(size - pos - header, 0)} after its header")
    if len(ds) == 0:
        raise ParseError("not a DICOM file: no data elements could be read")
    # pydicom reads a value cut off by the end of the file as the bytes that are there: the last
    # element read must end inside the file (a deferred value too: its offset and length are known).
    last = ds.get_item(max(ds.keys()))
    tell, length = getattr(last, "value_tell", None), getattr(last, "length", 0)
    if isinstance(tell, int) and length != 0xFFFFFFFF and tell + length > size:
        raise ParseError(f"truncated: the last header element declares {length} bytes, the file holds "
                         f"{max(size - tell, 0)}")
    return ds


def make_unit(ds: Dataset, file: str, where: Location) -> Unit[Read]:
    try:
        inst = _quiet(lambda: instance_from_dataset(ds))
    except (ValueError, TypeError, KeyError, IndexError, UnicodeError, LookupError, EOFError, struct.error) as exc:
        return Unit(where, error=ParseError(f"a header value cannot be decoded ({type(exc).__name__} from pydicom)"))
    return Unit(where, record=Read(inst, file))


def _quiet(fn: Any) -> Any:
    """``fn()`` with pydicom's warnings (which quote values) caught and dropped."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return fn()


def _text(ds: Dataset, tag: int) -> str:
    elem = ds.get(tag)
    if elem is None:
        return ""
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, (MultiValue, list)):
        return "\\".join(str(v) for v in value).strip()
    if isinstance(value, bytes):  # UN, or a value pydicom could not convert
        return value.decode("latin-1").strip("\x00 ")
    return str(value).strip()


def _pn(value: Any) -> PersonName:
    if value is None or value == "":
        return ("", "", "")
    if isinstance(value, PydicomPersonName):
        groups = [value.alphabetic or "", value.ideographic or "", value.phonetic or ""]
    else:
        groups = (str(value).split("=") + ["", ""])[:3]
    a, b, c = (g.strip() if g.strip("^ ") else "" for g in groups)  # "^^" names nobody
    return (a, b, c)


def _names(ds: Dataset, tag: int) -> list[PersonName]:
    elem = ds.get(tag)
    if elem is None or elem.value is None or elem.value == "":
        return []
    values = elem.value if isinstance(elem.value, (MultiValue, list)) else [elem.value]
    return [pn for pn in (_pn(v) for v in values) if any(pn)]


def _codes(ds: Dataset, tag: int) -> list[Code]:
    elem = ds.get(tag)
    if elem is None or not elem.value:
        return []
    out: list[Code] = []
    for item in elem.value:
        value = _text(item, 0x00080100) or _text(item, 0x00080119) or _text(item, 0x00080120)
        code = (value, _text(item, 0x00080102), _text(item, 0x00080104))
        if any(code):
            out.append(code)
    return out


def instance_from_dataset(ds: Dataset, wado_base: str = "") -> Instance:
    """The mapped attributes of one data set (values decoded with its SpecificCharacterSet)."""
    inst = build_instance(lambda tag: _text(ds, tag), lambda tag: _names(ds, tag), lambda tag: _codes(ds, tag))
    inst.wado_base = wado_base
    return inst


def dataset_from_json(doc: dict[str, Any]) -> Dataset:
    """A data set from the DICOM JSON model (PS3.18 F.2), as WADO-RS metadata returns it; bulk data
    (pixel data, large values) is never fetched."""
    ds: Dataset = _quiet(lambda: Dataset.from_json(doc, bulk_data_uri_handler=lambda *_: b""))
    return ds
