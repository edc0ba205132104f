"""DICOMweb against a real Orthanc: QIDO-RS study search for a StudyDate window, WADO-RS metadata,
the same ImagingStudy mapping, the server as the studies' Endpoint."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
from dicom_helpers import DATA, records, resources, upload

from etl.cli import main
from etl.config import JobConfig
from etl.pipeline import convert

pytestmark = pytest.mark.orthanc

FILES = sorted(p for p in (DATA / "pydicom").rglob("*") if p.is_file() and p.name != "DICOMDIR")


def test_dicomweb_studies_in_the_window_convert_with_every_instance(tmp_path: Path, orthanc_url: str) -> None:
    stored = upload(orthanc_url, FILES)
    expected: dict[str, set[str]] = defaultdict(set)
    dates: dict[str, str] = {}
    for f, ok in stored.items():
        if ok:
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
            expected[str(ds.StudyInstanceUID)].add(str(ds.SOPInstanceUID))
            dates[str(ds.StudyInstanceUID)] = str(ds.get("StudyDate", ""))
    assert len(expected) >= 10
    out = tmp_path / "out"
    url = "dicomweb+" + orthanc_url
    summary = convert([url], out, JobConfig(id_salt="dicomweb", state_url=str(tmp_path / "state.db"),
                                            dicom_since="1990-01-01", dicom_until="2099-12-31"))
    assert summary.rejected == 0, records(out)
    (fs,) = summary.files
    assert fs.name == orthanc_url.replace("http://", "dicomweb+http://") and fs.format == "dicom"
    studies = {s["identifier"][0]["value"].removeprefix("urn:oid:"): s for s in resources(out, "ImagingStudy")}
    (endpoint,) = resources(out, "Endpoint")
    assert endpoint["address"] == orthanc_url
    for uid, sops in expected.items():
        if not dates[uid]:
            continue  # no StudyDate: outside any date window
        study = studies[uid]
        assert {i["uid"] for s in study["series"] for i in s["instance"]} == sops
        assert study["numberOfInstances"] == len(sops)
        assert study["endpoint"] == [{"reference": f"Endpoint/{endpoint['id']}"}]
    # the window: only the 2001+ studies of the DICOMDIR set and later
    narrow = tmp_path / "narrow"
    assert main(["convert", url, "-o", str(narrow), "--since", "2005-01-01", "--until", "2020-12-31", "-q",
                 "--state", str(tmp_path / "narrow.db")]) == 0
    got = {s["identifier"][0]["value"].removeprefix("urn:oid:") for s in resources(narrow, "ImagingStudy")}
    want = {uid for uid, d in dates.items() if "20050101" <= d <= "20201231"}
    assert want and want <= got and all("20050101" <= dates.get(u, "20050101") <= "20201231" for u in got)
