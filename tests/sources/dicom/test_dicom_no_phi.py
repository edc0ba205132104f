"""No DICOM header value reaches the log, the summary, the manifest or the text of an error or
warning record: only the records' source-excerpt extension may quote them."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pydicom
import pytest
from dicom_helpers import DATA, make_instance, records

from etl.config import JobConfig
from etl.pipeline import convert


def _values(paths: list[Path]) -> set[str]:
    """Distinctive patient names, ids and birth dates of ``paths``."""
    out: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in paths:
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=True, force=True)
            except Exception:  # noqa: BLE001 - unreadable samples hold no values to look for
                continue
            for key in ("PatientName", "PatientID", "PatientBirthDate"):
                value = str(ds.get(key, "") or "")
                for part in value.replace("=", "^").split("^"):
                    if len(part.strip()) >= 6 and part.strip().upper() not in {"ANONYMOUS", "PATIENT"}:
                        out.add(part.strip())
    return out


def test_dicom_values_stay_out_of_logs_summary_and_record_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_instance(tmp_path / "in" / "bad.dcm", "1.2.3.x", "1.2.3.1", "1.2.3.1.1", PatientName="Zebulon^Quartermain",
                  PatientBirthDate="19451399")
    make_instance(tmp_path / "in" / "date.dcm", "1.2.4", "1.2.4.1", "1.2.4.1.1", PatientName="Zebulon^Quartermain",
                  PatientBirthDate="19451399", PatientSex="X")
    make_instance(tmp_path / "in" / "no-preamble.dcm", "1.2.5", "1.2.5.1", "1.2.5.1.1", preamble=False,
                  PatientName="Zebulon^Quartermain", PatientBirthDate="19451399")  # read by pydicom, which logs it
    inputs = [DATA, tmp_path / "in"]
    phi = _values([p for p in DATA.rglob("*") if p.is_file()]) | {"Quartermain", "19451399"}
    assert {"CompressedSamples", "Quartermain"} <= phi
    caplog.set_level(logging.DEBUG)
    caplog.clear()  # what writing the inputs logged (pydicom, in the test) is not fhirflow's
    out = tmp_path / "out"
    summary = convert(inputs, out, JobConfig(id_salt="phi", state_url=str(tmp_path / "state.db")))
    texts = [i.get("diagnostics", "") + i["details"]["text"] for r in records(out) + records(out, "warnings")
             for i in r["issue"]]
    assert any("(0010,0030)" in t for t in texts)  # the bad birth date was reported...
    seen = caplog.text + json.dumps(summary.to_dict()) + (out / "manifest.json").read_text() + "\n".join(texts)
    names = " ".join(str(p.relative_to(DATA)) for p in DATA.rglob("*"))  # file names are not PHI by contract
    leaked = sorted(v for v in phi if v in seen and v not in names)
    assert leaked == []  # ...without its value, and no name or id anywhere an operator looks
