"""What the DICOM source reads from one instance's header: :class:`Instance`, plain values only.

An instance's record is what the run-state database keeps (:mod:`etl.state.studies`) so that a
later run can emit the whole study without the earlier files: every field is a string (or a list or
tuple of strings) decoded with the file's SpecificCharacterSet (0008,0005), named after the DICOM
attribute it comes from (PS3.6 keyword in the comment). ``file`` (where it was read) is kept beside
the record, not in it: the same instance read from another path is the same instance.

https://dicom.nema.org/medical/dicom/current/output/chtml/part06/chapter_6.html (data dictionary)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

# A person name (PN): its alphabetic, ideographic and phonetic component groups (PS3.5 6.2.1.2),
# each "family^given^middle^prefix^suffix" as written.
PersonName = tuple[str, str, str]
# A code sequence item: (CodeValue (0008,0100) or LongCodeValue (0008,0119) or URNCodeValue
# (0008,0120), CodingSchemeDesignator (0008,0102), CodeMeaning (0008,0104))
Code = tuple[str, str, str]


@dataclass
class Instance:
    """The header of one composite instance (image, SR, SEG, RT object...)."""

    sop_class_uid: str = ""  # SOPClassUID (0008,0016)
    sop_instance_uid: str = ""  # SOPInstanceUID (0008,0018)
    study_uid: str = ""  # StudyInstanceUID (0020,000D)
    series_uid: str = ""  # SeriesInstanceUID (0020,000E)
    instance_number: str = ""  # InstanceNumber (0020,0013)
    modality: str = ""  # Modality (0008,0060)
    series_number: str = ""  # SeriesNumber (0020,0011)
    series_description: str = ""  # SeriesDescription (0008,103E)
    series_date: str = ""  # SeriesDate (0008,0021), FHIR date after validation
    series_time: str = ""  # SeriesTime (0008,0031)
    body_part: str = ""  # BodyPartExamined (0018,0015)
    laterality: str = ""  # Laterality (0020,0060), else ImageLaterality (0020,0062)
    performers: list[PersonName] = field(default_factory=list)  # PerformingPhysicianName (0008,1050)
    study_date: str = ""  # StudyDate (0008,0020)
    study_time: str = ""  # StudyTime (0008,0030)
    tz_offset: str = ""  # TimezoneOffsetFromUTC (0008,0201), "+HHMM"
    accession: str = ""  # AccessionNumber (0008,0050)
    study_description: str = ""  # StudyDescription (0008,1030)
    study_id: str = ""  # StudyID (0020,0010)
    referrer: PersonName = ("", "", "")  # ReferringPhysicianName (0008,0090)
    procedure_codes: list[Code] = field(default_factory=list)  # ProcedureCodeSequence (0008,1032)
    reason: str = ""  # ReasonForTheRequestedProcedure (0040,1002), else ReasonForVisit (0032,1066)
    reason_codes: list[Code] = field(default_factory=list)  # ReasonForRequestedProcedureCodeSequence (0040,100A)
    patient_id: str = ""  # PatientID (0010,0020)
    issuer: str = ""  # IssuerOfPatientID (0010,0021)
    patient_name: PersonName = ("", "", "")  # PatientName (0010,0010)
    birth_date: str = ""  # PatientBirthDate (0010,0030)
    sex: str = ""  # PatientSex (0010,0040)
    # instance.title: ContentLabel (0070,0080) | ConceptNameCodeSequence (0040,A043) > CodeMeaning |
    # DocumentTitle (0042,0010) | ImageType (0008,0008), as the FHIR mapping lists them
    title: str = ""
    # The DICOMweb WADO-RS base URL the instance was read from ("" for files): the study's Endpoint.
    wado_base: str = ""

    def to_dict(self) -> dict[str, Any]:
        # dataclasses.asdict deep-copies recursively: a third of the source's time per instance
        out = {name: getattr(self, name) for name in _FIELDS}
        out["performers"] = [list(p) for p in self.performers]
        out["procedure_codes"] = [list(c) for c in self.procedure_codes]
        out["reason_codes"] = [list(c) for c in self.reason_codes]
        out["referrer"], out["patient_name"] = list(self.referrer), list(self.patient_name)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instance:
        known = {f.name for f in fields(cls)}
        inst = cls(**{k: v for k, v in data.items() if k in known})
        # JSON has no tuples: person names and codes come back as lists
        inst.referrer = _pn(inst.referrer)
        inst.patient_name = _pn(inst.patient_name)
        inst.performers = [_pn(p) for p in inst.performers]
        inst.procedure_codes = [_code(c) for c in inst.procedure_codes]
        inst.reason_codes = [_code(c) for c in inst.reason_codes]
        return inst


_FIELDS = tuple(f.name for f in fields(Instance))

# Where each field comes from: one table for both readers (pydicom's and the fast path's).
TEXT_FIELDS: dict[str, tuple[int, ...]] = {  # field -> tags, the first one present wins
    "sop_class_uid": (0x00080016,), "sop_instance_uid": (0x00080018,), "study_uid": (0x0020000D,),
    "series_uid": (0x0020000E,), "instance_number": (0x00200013,), "modality": (0x00080060,),
    "series_number": (0x00200011,), "series_description": (0x0008103E,), "series_date": (0x00080021,),
    "series_time": (0x00080031,), "body_part": (0x00180015,), "laterality": (0x00200060, 0x00200062),
    "study_date": (0x00080020,), "study_time": (0x00080030,), "tz_offset": (0x00080201,),
    "accession": (0x00080050,), "study_description": (0x00081030,), "study_id": (0x00200010,),
    "reason": (0x00401002, 0x00321066), "patient_id": (0x00100020,), "issuer": (0x00100021,),
    "birth_date": (0x00100030,), "sex": (0x00100040,),
}
NAME_FIELDS: dict[str, int] = {"referrer": 0x00080090, "patient_name": 0x00100010}  # PN, one value
NAMES_FIELDS: dict[str, int] = {"performers": 0x00081050}  # PN, any number of values
CODE_FIELDS: dict[str, int] = {"procedure_codes": 0x00081032, "reason_codes": 0x0040100A}
# instance.title: ContentLabel | ConceptNameCodeSequence > CodeMeaning | DocumentTitle | ImageType
TITLE_TEXT = (0x00700080,)
TITLE_CONCEPT = 0x0040A043
TITLE_FALLBACK = (0x00420010, 0x00080008)


def build_instance(text: Callable[[int], str], names: Callable[[int], list[PersonName]],
                   codes: Callable[[int], list[Code]]) -> Instance:
    """An :class:`Instance` from a reader's accessors (tag -> decoded text, person names, code items)."""
    values: dict[str, Any] = {name: next((v for v in map(text, tags) if v), "") for name, tags in TEXT_FIELDS.items()}
    for name, tag in NAME_FIELDS.items():
        found = names(tag)
        values[name] = found[0] if found else ("", "", "")
    values.update({name: names(tag) for name, tag in NAMES_FIELDS.items()})
    values.update({name: codes(tag) for name, tag in CODE_FIELDS.items()})
    concept = codes(TITLE_CONCEPT)
    values["title"] = (text(TITLE_TEXT[0]) or (concept[0][2] if concept and concept[0][2] else "")
                       or next((v for v in map(text, TITLE_FALLBACK) if v), ""))
    return Instance(**values)


def _pn(value: Any) -> PersonName:
    a, b, c = (list(value) + ["", "", ""])[:3]
    return (str(a), str(b), str(c))


def _code(value: Any) -> Code:
    a, b, c = (list(value) + ["", "", ""])[:3]
    return (str(a), str(b), str(c))


@dataclass
class Read:
    """A unit of the DICOM source: one instance as read from ``file`` (a path, ``archive.zip!member``
    or a DICOMweb instance URL), before validation."""

    instance: Instance
    file: str
    origin: str = ""  # the input the pipeline opened (the zip, the DICOMDIR, the server URL)


@dataclass
class Study:
    """A unit the source makes after all files were read: every instance known of one study (this
    run's and earlier runs'), in a stable order (series number, instance number, UIDs)."""

    study_uid: str
    instances: list[Instance]
    endpoint: str = ""  # a WADO-RS base for the study's Endpoint ("" : none)
