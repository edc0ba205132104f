"""DICOM files to ImagingStudy: every sample converts or is reported, studies are whole, bad files
and bad values are error records or warnings naming the file and the tag."""

from __future__ import annotations

import shutil
import zipfile
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
from dicom_helpers import DATA, make_instance, records, resources

from etl.config import JobConfig, Strictness
from etl.fhir.outcome import source_excerpt
from etl.fhir.validation import validate_model
from etl.pipeline import convert

SAMPLES = sorted(p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".md")


def _config(tmp: Path, **kw: object) -> JobConfig:
    return JobConfig(id_salt="dicom-test", transaction_time="2026-01-01T00:00:00+00:00",
                     state_url=str(tmp / "state.db"), **kw)  # type: ignore[arg-type]


def _expected_instances() -> dict[str, set[str]]:
    """StudyInstanceUID -> the SOP Instance UIDs of the sample files that have one (read by pydicom)."""
    out: dict[str, set[str]] = defaultdict(set)
    for p in SAMPLES:
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - files pydicom cannot read are checked to be reported
            continue
        if "StudyInstanceUID" in ds and "SOPInstanceUID" in ds and "bad" not in p.parts:
            out[str(ds.StudyInstanceUID)].add(str(ds.SOPInstanceUID))
    return out


def test_every_sample_converts_or_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = convert([DATA], out, _config(tmp_path))
    names = {f.name: f for f in summary.files if f.name != "PROVENANCE.md"}
    assert len(names) == len(SAMPLES)
    errors = records(out)
    reported = {e["extension"][0]["valueString"] for e in errors} - {"PROVENANCE.md"}
    for f in names.values():
        assert f.format == "dicom" or f.name in reported, f.name
        assert f.succeeded + f.skipped >= 1 or f.name in reported or f.name.endswith("DICOMDIR"), f.name
    # the files that cannot convert, each named by an error record
    assert reported == {"pydicom/nested_priv_SQ.dcm", "pydicom/no_meta.dcm", "bad/MR_truncated.dcm",
                        "bad/rtplan_truncated.dcm"}
    texts = {e["extension"][0]["valueString"]: e["issue"][0]["diagnostics"] for e in errors}
    assert "truncated" in texts["bad/MR_truncated.dcm"] and "truncated" in texts["bad/rtplan_truncated.dcm"]
    assert "(0020,000D)" in texts["pydicom/nested_priv_SQ.dcm"]
    # files without the 128-byte preamble (big and little endian) converted
    assert names["bad/ExplVR_BigEndNoMeta.dcm"].succeeded == names["bad/ExplVR_LitEndNoMeta.dcm"].succeeded == 1
    studies = {s["identifier"][0]["value"].removeprefix("urn:oid:"): s for s in resources(out, "ImagingStudy")}
    expected = _expected_instances()
    assert set(expected) <= set(studies)
    for uid, sops in expected.items():
        study = studies[uid]
        got = {i["uid"] for s in study["series"] for i in s["instance"]}
        assert study["numberOfInstances"] == len(sops) == len(got) and got == sops, uid
        assert study["numberOfSeries"] == len(study["series"])
        assert all(s["numberOfInstances"] == len(s["instance"]) for s in study["series"])
    every = [r for t in ("ImagingStudy", "Patient", "Practitioner") for r in resources(out, t)]
    assert {r["resourceType"] for r in every} == {"ImagingStudy", "Patient", "Practitioner"}
    assert [p for r in every for p in validate_model(r)] == []


def test_dicomdir_alone_reads_the_files_it_references(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    shutil.copytree(DATA / "pydicom" / "dicomdir", folder)
    (folder / "98892003" / "MR700" / "4467").unlink()
    out = tmp_path / "out"
    summary = convert([folder / "DICOMDIR"], out, _config(tmp_path))
    (fs,) = summary.files
    assert fs.succeeded == 30 and fs.rejected == 1
    (err,) = records(out)
    assert err["issue"][0]["expression"] == ["(0004,1500)"]
    assert "98892003/MR700/4467" in err["issue"][0]["diagnostics"] and "missing" in err["issue"][0]["diagnostics"]
    assert sum(s["numberOfInstances"] for s in resources(out, "ImagingStudy")) == 30
    # the folder and its DICOMDIR in one run: each file is read once
    again = convert([folder], tmp_path / "out2", _config(tmp_path / "b"))
    assert sum(f.succeeded for f in again.files) == 30
    assert sum(s["numberOfInstances"] for s in resources(tmp_path / "out2", "ImagingStudy")) == 30


def test_zip_archive_members_and_bad_members(tmp_path: Path) -> None:
    a = make_instance(tmp_path / "src" / "a.dcm", "1.2.826.1", "1.2.826.1.1", "1.2.826.1.1.1")
    b = make_instance(tmp_path / "src" / "b.dcm", "1.2.826.1", "1.2.826.1.2", "1.2.826.1.2.1", SeriesNumber="2")
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(a, "DICOM/a.dcm")
        z.write(b, "DICOM/b.dcm")
        z.writestr("README.txt", "not dicom")
    out = tmp_path / "out"
    summary = convert([archive], out, _config(tmp_path))
    assert summary.files[0].format == "dicom" and summary.succeeded == 2 and summary.rejected == 1
    (err,) = records(out)
    assert "zip member README.txt" in err["issue"][0]["diagnostics"] and "not a DICOM file" in err["issue"][0]["diagnostics"]
    (study,) = resources(out, "ImagingStudy")
    assert study["numberOfSeries"] == 2 and study["numberOfInstances"] == 2


def test_invalid_uid_is_an_error_naming_file_and_tag_bad_date_a_warning(tmp_path: Path) -> None:
    make_instance(tmp_path / "in" / "bad-uid.dcm", "1.2.03.x", "1.2.3.1", "1.2.3.1.1")
    make_instance(tmp_path / "in" / "bad-date.dcm", "1.2.5", "1.2.5.1", "1.2.5.1.1", StudyDate="20261399",
                  preamble=False)
    out = tmp_path / "out"
    summary = convert([tmp_path / "in"], out, _config(tmp_path))
    assert summary.rejected == 1 and summary.succeeded == 1
    (err,) = records(out)
    issue = err["issue"][0]
    assert issue["expression"] == ["(0020,000D)"] and issue["diagnostics"].startswith("bad-uid.dcm")
    assert source_excerpt(issue)["(0020,000D)"] == "1.2.03.x" and "1.2.03.x" not in issue["diagnostics"]
    (warn,) = records(out, "warnings")
    assert warn["extension"][0]["valueString"] == "bad-date.dcm"
    assert any("(0008,0020)" in i["details"]["text"] for i in warn["issue"])
    (study,) = resources(out, "ImagingStudy")
    assert "started" not in study  # the bad date is left out, the study converts
    # --strictness raise rejects the instance instead
    strict = convert([tmp_path / "in"], tmp_path / "out2", _config(tmp_path / "s", strictness=Strictness.RAISE))
    assert strict.rejected == 2


def test_mapping_of_a_generated_study(tmp_path: Path) -> None:
    make_instance(tmp_path / "in" / "1.dcm", "1.2.7", "1.2.7.1", "1.2.7.1.1", TimezoneOffsetFromUTC="+0100",
                  Laterality="L", PerformingPhysicianName="Performer^Pat", SeriesDescription="AXIAL")
    make_instance(tmp_path / "in" / "2.dcm", "1.2.7", "1.2.7.1", "1.2.7.1.2", InstanceNumber="2")
    out = tmp_path / "out"
    convert([tmp_path / "in"], out, _config(tmp_path, dicom_endpoint="https://pacs.example/dicom-web"))
    (study,) = resources(out, "ImagingStudy")
    assert study["started"] == "2026-01-02T10:15:00+01:00"
    assert study["identifier"][1]["value"] == "ACC42" and study["basedOn"][0]["identifier"]["value"] == "ACC42"
    (series,) = study["series"]
    assert [i["number"] for i in series["instance"]] == [1, 2]
    assert series["bodySite"]["code"] == "51185008" and series["laterality"]["code"] == "7771000"
    assert series["modality"]["code"] == "CT" and series["description"] == "AXIAL"
    (patient,) = resources(out, "Patient")
    assert patient["identifier"] == [{"value": "GEN001", "system": "urn:oid:1.2.3.4.5"}]
    assert patient["gender"] == "female" and patient["birthDate"] == "1980-01-01"
    assert study["subject"]["reference"] == f"Patient/{patient['id']}"
    practitioners = {p["name"][0]["family"]: p for p in resources(out, "Practitioner")}
    assert set(practitioners) == {"Referrer", "Performer"}
    assert study["referrer"]["reference"] == f"Practitioner/{practitioners['Referrer']['id']}"
    (endpoint,) = resources(out, "Endpoint")
    assert endpoint["address"] == "https://pacs.example/dicom-web" and study["endpoint"] == series["endpoint"]


@pytest.mark.parametrize(("name", "family", "ideographic", "phonetic"), [
    ("chrH31.dcm", "Yamada", "山田", "やまだ"),  # ISO 2022 IR 87 (Japanese)
    ("chrI2.dcm", "Hong", "洪", "홍"),  # ISO 2022 IR 149 (Korean)
    ("chrX2.dcm", "Wang", "王", None),  # GB18030
])
def test_person_names_in_iso2022_and_gb18030(tmp_path: Path, name: str, family: str, ideographic: str,
                                             phonetic: str | None) -> None:
    out = tmp_path / "out"
    convert([DATA / "charset-extra" / name], out, _config(tmp_path))
    (patient,) = resources(out, "Patient")
    names = patient["name"]
    assert names[0]["family"] == family and "extension" not in names[0]
    assert names[1]["family"] == ideographic
    assert names[1]["extension"][0]["valueCode"] == "IDE"
    if phonetic:
        assert names[2]["family"] == phonetic and names[2]["extension"][0]["valueCode"] == "SYL"


def test_utf8_and_latin1_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert([DATA / "pydicom" / "charset" / "chrX1.dcm", DATA / "pydicom" / "charset" / "chrFren.dcm"], out,
            _config(tmp_path))
    families = sorted(n["family"] for p in resources(out, "Patient") for n in p["name"])
    assert families == ["Buc", "Wang", "王"]
    assert any(n.get("given") == ["Jérôme"] for p in resources(out, "Patient") for n in p["name"])
