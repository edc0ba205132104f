"""Generate a folder of small DICOM files for the DICOM benchmark (deterministic).

One template instance (CT, explicit VR little endian, 64x64 16-bit pixels) is written with pydicom;
every file is that template with its Study/Series/SOP Instance UIDs and numbers patched in place
(fixed-width placeholders), so 20,000 files take seconds. ``studies`` x ``series`` x ``instances``.
"""

from __future__ import annotations

import io
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

ROOT_UID = "1.2.826.0.1.3680043.10.543"
_ST, _SE, _SO = "9" * 20, "8" * 24, "7" * 28  # placeholders, as wide as the values put there


def _template() -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = f"{ROOT_UID}.{_SO}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = f"{ROOT_UID}.{_SO}"
    ds.StudyInstanceUID = f"{ROOT_UID}.{_ST}"
    ds.SeriesInstanceUID = f"{ROOT_UID}.{_SE}"
    ds.StudyDate, ds.StudyTime, ds.SeriesDate, ds.SeriesTime = "20260102", "101500", "20260102", "101600"
    ds.AccessionNumber, ds.Modality, ds.StudyDescription = "BENCH00001", "CT", "BENCH CT CHEST"
    ds.ReferringPhysicianName = "Referrer^Robert"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Bench^Patient", "BENCH0000", "19700101", "O"
    ds.BodyPartExamined, ds.SeriesNumber, ds.InstanceNumber = "CHEST", "1", "1"
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = bytes(64 * 64 * 2)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return buf.getvalue()


def generate(folder: Path, studies: int, series: int, instances: int) -> list[Path]:
    """Write ``studies * series * instances`` files under ``folder`` (kept if already complete)."""
    total = studies * series * instances
    files = sorted(folder.glob("*/*.dcm"))
    if len(files) == total:
        return files
    template = _template()
    out = []
    for st in range(studies):
        sub = folder / f"study-{st:05d}"
        sub.mkdir(parents=True, exist_ok=True)
        for se in range(series):
            for n in range(instances):
                data = (template.replace(_ST.encode(), f"1{st:019d}".encode())
                        .replace(_SE.encode(), f"1{st:011d}{se:012d}".encode())
                        .replace(_SO.encode(), f"1{st:09d}{se:08d}{n:010d}".encode()))
                path = sub / f"{se:03d}-{n:05d}.dcm"
                path.write_bytes(data)
                out.append(path)
    return sorted(out)
