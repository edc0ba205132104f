"""UTF-16/UTF-32 inputs (byte-order mark, or XML's own autodetection) convert like their UTF-8
originals, for every format, and are read as a stream (etl/sources/encoding.py)."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import orjson
import pytest

from etl.config import JobConfig
from etl.errors import ParseError
from etl.pipeline import convert
from etl.sources import encoding
from etl.sources.encoding import Utf8Transcoder, detect_encoding, open_utf8, utf8_head
from etl.sources.registry import detect
from etl.sources.x12.envelope import read_transactions

DATA = Path(__file__).resolve().parents[1] / "data"
X12 = DATA / "x12" / "837P" / "uhin-x12-parser" / "837.edi"
HL7 = DATA / "hl7v2" / "python-hl7" / "sample_batch1.hl7"
CCDA = DATA / "ccda" / "fhir-converter" / "input" / "CCD.ccda"
BOMS = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}


def _encode(src: Path, dst: Path, codec: str, *, bom: bool = True) -> Path:
    text = src.read_bytes().decode("utf-8")
    if src.suffix == ".ccda":  # an XML document says what it is encoded in
        text = text.replace('encoding="UTF-8"', f'encoding="{codec[:6].upper()}"', 1)
    dst.write_bytes((BOMS[codec] if bom else b"") + text.encode(codec))
    return dst


def _outputs(out: Path) -> dict[str, list[dict[str, object]]]:
    return {p.name: sorted((orjson.loads(x) for x in p.read_bytes().splitlines()), key=lambda r: str(r["id"]))
            for p in sorted((out / "fhir").glob("*.ndjson"))}


@pytest.mark.parametrize("codec", sorted(BOMS))
@pytest.mark.parametrize(("src", "fmt"), [(X12, "x12"), (HL7, "hl7v2"), (CCDA, "ccda")], ids=["x12", "hl7v2", "ccda"])
def test_a_wide_encoding_with_a_bom_converts_like_utf8(tmp_path: Path, src: Path, fmt: str, codec: str) -> None:
    # The same name as the source: a resource may name its source file (HL7 v2 Provenance).
    (tmp_path / "in").mkdir()
    wide = _encode(src, tmp_path / "in" / src.name, codec)
    assert detect(wide) == fmt
    cfg = JobConfig(id_salt="enc", parquet=False, transaction_time="2026-01-01T00:00:00Z")
    plain = convert([src], tmp_path / "plain", cfg)
    summary = convert([wide], tmp_path / "wide", cfg)
    assert summary.rejected == 0 and summary.succeeded == plain.succeeded > 0
    assert _outputs(tmp_path / "wide") == _outputs(tmp_path / "plain")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_ccda_declaring_utf16_without_a_bom_converts(tmp_path: Path, codec: str) -> None:
    # XML 1.0 Appendix F: "<?" in UTF-16 is recognised without a BOM, and the declaration confirms it.
    wide = _encode(CCDA, tmp_path / "in.xml", codec, bom=False)
    assert wide.read_bytes()[:4] in (b"<\x00?\x00", b"\x00<\x00?")
    assert detect(wide) == "ccda"
    summary = convert([wide], tmp_path / "out", JobConfig(id_salt="enc", parquet=False))
    assert summary.rejected == 0 and summary.resources["Patient"] == 1


def test_detection_of_boms_and_xml_starts() -> None:
    assert detect_encoding(codecs.BOM_UTF32_LE + "I".encode("utf-32-le")) == ("utf-32-le", 4)  # not UTF-16LE
    assert detect_encoding(codecs.BOM_UTF16_LE + b"I\x00") == ("utf-16-le", 2)
    assert detect_encoding(codecs.BOM_UTF8 + b"ISA") == ("utf-8", 3)
    assert detect_encoding(b"ISA*00") == (None, 0)
    # a head cut inside a character keeps what decodes
    assert utf8_head(codecs.BOM_UTF16_BE + "MSH|é".encode("utf-16-be")[:-1]) == b"MSH|"


def test_the_transcoder_streams_and_seeks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoding, "CHUNK", 7)  # many chunks, characters cut between them
    text = "ISA*é~" * 50 + "\U0001f600~"
    raw = io.BytesIO(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    stream = io.BufferedReader(Utf8Transcoder(raw, "utf-16-le", 2, "x.edi"), 16)
    data = text.encode("utf-8")
    assert stream.read(10) == data[:10] and stream.tell() == 10
    stream.seek(100)
    assert stream.read(5) == data[100:105]
    stream.seek(3)  # back: starts over
    assert stream.read() == data[3:]


def test_an_oversized_transaction_set_in_utf16_is_reread_in_parts(tmp_path: Path) -> None:
    # The X12 reader seeks back to a large transaction set's ST to yield it in parts.
    wide = _encode(X12, tmp_path / "in.edi", "utf-16-le")
    parts = [u for u in read_transactions(wide, max_bodies=1) if u.record is not None]
    plain = [u for u in read_transactions(X12, max_bodies=1) if u.record is not None]
    assert [[s.e for s in u.record.segments] for u in parts] == [[s.e for s in u.record.segments] for u in plain]  # type: ignore[union-attr]


def test_invalid_utf16_is_an_error_record_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hl7"
    good = HL7.read_bytes().decode("utf-8").encode("utf-16-le")
    bad.write_bytes(codecs.BOM_UTF16_LE + good + b"\x00\xd8")  # a lone high surrogate at the end
    with pytest.raises(ParseError, match="not valid UTF-16-LE"), open_utf8(bad) as fh:
        fh.read()
    summary = convert([bad], tmp_path / "out", JobConfig(id_salt="enc", parquet=False))
    assert summary.rejected >= 1
    record = orjson.loads(next((tmp_path / "out" / "errors").glob("*.ndjson")).read_bytes().splitlines()[-1])
    assert "not valid UTF-16-LE" in record["issue"][0]["details"]["text"]


def test_a_ccda_that_is_not_the_utf16_it_declares_is_an_error_record(tmp_path: Path) -> None:
    bad = _encode(CCDA, tmp_path / "bad.xml", "utf-16-le")
    bad.write_bytes(bad.read_bytes()[:5000] + b"\x00\xdc" + bad.read_bytes()[5000:])  # a lone low surrogate
    summary = convert([bad], tmp_path / "out", JobConfig(id_salt="enc", parquet=False))
    assert summary.rejected == 1
    record = orjson.loads(next((tmp_path / "out" / "errors").glob("*.ndjson")).read_bytes())
    assert "not valid UTF-16-LE" in record["issue"][0]["details"]["text"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-32-be"])
def test_validate_reads_a_wide_x12_file_like_its_utf8_original(tmp_path: Path, codec: str) -> None:
    # pyx12 reads single-byte text only: it is handed a private UTF-8 copy, removed afterwards.
    from etl.sources.x12.validate import file_versions, validate_file

    wide = _encode(X12, tmp_path / "in.edi", codec)
    assert file_versions(wide) == file_versions(X12) == {"005010X222A1"}
    plain_err, plain_warns = validate_file(X12, file_versions(X12))
    wide_err, wide_warns = validate_file(wide, file_versions(wide))
    assert (wide_err is None, wide_warns) == (plain_err is None, plain_warns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.edi"]
