"""What the DICOM tests share: sample paths, small generated instances, reading a converted output."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import httpx
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

DATA = Path(__file__).resolve().parents[2] / "data" / "dicom"
CT = "1.2.840.10008.5.1.4.1.1.2"


def make_instance(path: Path, study: str, series: str, sop: str, *, preamble: bool = True, **attrs: Any) -> Path:
    """A small CT instance at ``path`` with the given UIDs; ``attrs`` set or override keywords."""
    with warnings.catch_warnings():  # bad values are the point of some tests
        warnings.simplefilter("ignore")
        return _make(path, study, series, sop, preamble, attrs)


def _make(path: Path, study: str, series: str, sop: str, preamble: bool, attrs: dict[str, Any]) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.Modality = "CT"
    ds.PatientID = "GEN001"
    ds.IssuerOfPatientID = "1.2.3.4.5"
    ds.PatientName = "Generated^Jane"
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "F"
    ds.StudyDate = "20260102"
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC42"
    ds.ReferringPhysicianName = "Referrer^Robert"
    ds.StudyDescription = "CT CHEST"
    ds.SeriesNumber = "1"
    ds.InstanceNumber = "1"
    ds.BodyPartExamined = "CHEST"
    for key, value in attrs.items():
        setattr(ds, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=preamble, implicit_vr=False, little_endian=True)
    return path


def resources(out: Path, rtype: str) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((out / "fhir").glob(f"{rtype}.*.ndjson")) for line in f.read_text().splitlines()]


def records(out: Path, kind: str = "errors") -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((out / kind).glob("*.ndjson")) for line in f.read_text().splitlines()]


def upload(orthanc_dicomweb: str, files: list[Path]) -> dict[Path, bool]:
    """POST each file to Orthanc's REST ``/instances``; whether Orthanc stored it."""
    rest = orthanc_dicomweb.removesuffix("/dicom-web")
    out = {}
    with httpx.Client(timeout=60) as client:
        for f in files:
            r = client.post(f"{rest}/instances", content=f.read_bytes())
            out[f] = r.status_code == 200 and r.json().get("Status") in ("Success", "AlreadyStored")
    return out
