"""The fast header reader gives exactly what pydicom gives, on every sample file it takes."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from dicom_helpers import DATA

from etl.errors import ParseError
from etl.sources.dicom.fastread import HEAD_BYTES, read_fast
from etl.sources.dicom.parse import instance_from_dataset

SAMPLES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".md")


@pytest.mark.parametrize("path", SAMPLES, ids=[str(p.relative_to(DATA)) for p in SAMPLES])
def test_fast_path_equals_pydicom(path: Path) -> None:
    data = path.read_bytes()
    try:
        fast = read_fast(data[:HEAD_BYTES], len(data))
    except ParseError:
        assert "bad" in path.parts  # only the cut-off files
        return
    if fast is None:
        return  # pydicom reads this one (no preamble, big endian, DICOMDIR, ...)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        slow = instance_from_dataset(ds)
    assert fast == slow


def test_fast_path_takes_most_samples() -> None:
    taken = 0
    for path in SAMPLES:
        data = path.read_bytes()
        try:
            taken += read_fast(data[:HEAD_BYTES], len(data)) is not None
        except ParseError:
            pass
    assert taken >= 55


def test_a_head_shorter_than_the_header_falls_back(tmp_path: Path) -> None:
    data = (DATA / "pydicom" / "CT_small.dcm").read_bytes()
    assert read_fast(data[:400], len(data)) is None  # the header goes on: pydicom reads the file
    with pytest.raises(ParseError, match="truncated"):
        read_fast(data[:403], 403)  # the whole file is 403 bytes: cut off inside an element
