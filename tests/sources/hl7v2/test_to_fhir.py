"""HL7 v2 → FHIR mappers: key fields against the message text, validity, rejections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from etl.config import JobConfig, Strictness
from etl.errors import MappingError, UnsupportedError
from etl.fhir.context import MappingContext
from etl.fhir.outcome import source_excerpt
from etl.fhir.validation import validate_model
from etl.pipeline import convert
from etl.sources.hl7v2.model import Message
from etl.sources.hl7v2.to_fhir import to_fhir

HL7 = Path(__file__).resolve().parents[2] / "data" / "hl7v2"

ADT = [
    "MSH|^~\\&|ADT|GOOD HEALTH|EHR|GOOD HEALTH|20240105083000-0500||ADT^A01^ADT_A01|MSG0001|P|2.5.1",
    "EVN|A01|20240105083000",
    "PID|1||555444^^^GHH^MR~123-45-6789^^^SSA^SS||Everyman^Adam^A^III^Dr||19610615|M||2106-3|"
    "2222 Home Street^^Ann Arbor^MI^99999^USA||^PRN^PH^^^555^5551234|^WPN^PH^^^555^5559999|EN|M",
    "|".join(["PV1", "1", "I", "2000^2012^01", "", "", "", "004777^ATTEND^AARON^A", "", "", "SUR", "", "", "", "ADM",
              "A0", "", "", "", "V100^^^GHH", *[""] * 24, "20240105083000-0500"]),
]
assert ADT[3].split("|")[19] == "V100^^^GHH" and ADT[3].split("|")[44].startswith("2024")
ORU = [
    "MSH|^~\\&|LAB|GHH|EHR|GHH|20240106120000+0000||ORU^R01|LAB77|P|2.5.1",
    "PID|1||555444^^^GHH^MR||Everyman^Adam||19610615|M",
    "OBR|1|ORD1|FIL1^LAB|24331-1^Lipid panel^LN|||20240106090000+0000||||||||||||||||||F",
    "OBX|1|NM|2093-3^Cholesterol^LN||196|mg/dL^mg/dL^UCUM|<200|N|||F",
    "OBX|2|ST|8251-1^Comment^LN||fasting \\T\\ rested||||||F",
    "OBX|3|CWE|2965-2^Appearance^LN||C^Clear^L||||||P",
    "OBX|4|NM|2093-3^Cholesterol^LN||200|mg/dL|||||C",
]


def _ctx(strictness: Strictness = Strictness.WARN) -> MappingContext:
    return MappingContext("salt", strictness)


def _by_type(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        out.setdefault(r["resourceType"], []).append(r)
    return out


def test_adt_a01_patient_and_encounter() -> None:
    res = _by_type(to_fhir(Message(ADT), _ctx()))
    (patient,), (enc,) = res["Patient"], res["Encounter"]
    assert patient["identifier"][0]["value"] == "555444"  # PID-3.1
    assert patient["identifier"][0]["type"]["coding"][0]["code"] == "MR"  # PID-3.5
    assert patient["name"] == [{"family": "Everyman", "given": ["Adam", "A"], "prefix": ["Dr"], "suffix": ["III"]}]
    assert patient["gender"] == "male" and patient["birthDate"] == "1961-06-15"
    assert patient["address"][0]["city"] == "Ann Arbor"
    assert {t["use"] for t in patient["telecom"]} == {"home", "work"}
    assert patient["maritalStatus"]["coding"][0]["code"] == "M"
    assert enc["status"] == "in-progress" and enc["class"]["code"] == "IMP"
    assert enc["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert enc["period"] == {"start": "2024-01-05T08:30:00-05:00"}
    assert enc["identifier"] == [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                       "code": "VN"}]}, "value": "V100"}]
    assert all(validate_model(r) == [] for r in (patient, enc))


def test_a03_finishes_the_same_encounter() -> None:
    a01 = _by_type(to_fhir(Message(ADT), _ctx()))["Encounter"][0]
    a03 = list(ADT)
    a03[0] = a03[0].replace("ADT^A01^ADT_A01", "ADT^A03").replace("MSG0001", "MSG0002")
    enc = _by_type(to_fhir(Message(a03), _ctx()))["Encounter"][0]
    assert enc["id"] == a01["id"] and enc["status"] == "finished"


def test_oru_r01_report_and_observations() -> None:
    res = _by_type(to_fhir(Message(ORU), _ctx()))
    (report,) = res["DiagnosticReport"]
    obs = res["Observation"]
    assert len(obs) == 4
    assert report["status"] == "final" and report["code"]["coding"][0] == {
        "system": "http://loinc.org", "code": "24331-1", "display": "Lipid panel"}
    assert [r["reference"] for r in report["result"]] == [f"Observation/{o['id']}" for o in obs]
    chol = obs[0]
    assert chol["valueQuantity"] == {"value": 196, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}
    assert chol["referenceRange"] == [{"text": "<200"}] and chol["interpretation"][0]["coding"][0]["code"] == "N"
    assert chol["effectiveDateTime"] == "2024-01-06T09:00:00+00:00"
    assert obs[1]["valueString"] == "fasting & rested"  # \T\ escape
    assert obs[2]["status"] == "preliminary" and obs[2]["valueCodeableConcept"]["coding"][0]["code"] == "C"
    assert obs[3]["status"] == "corrected" and obs[3]["id"] != chol["id"]  # same code, second occurrence
    assert all(validate_model(r) == [] for r in [report, *obs])


def test_missing_patient_id_rejects_with_field_path() -> None:
    msg = Message([ADT[0], "PID|1||^^^GHH||Doe^J"])
    with pytest.raises(MappingError) as exc:
        to_fhir(msg, _ctx())
    assert exc.value.location and exc.value.location.expression == "PID-3"


def test_unsupported_message_type_is_named() -> None:
    msg = Message([ADT[0].replace("ADT^A01^ADT_A01", "QRY^A19"), ADT[2]])
    with pytest.raises(UnsupportedError, match="QRY\\^A19 is not converted"):
        to_fhir(msg, _ctx())


def test_strictness_setting() -> None:
    bad = [ADT[0], ADT[2].replace("|M||2106-3", "|Q||2106-3")]
    ctx = _ctx(Strictness.WARN)
    patient = to_fhir(Message(bad), ctx)[0]
    # the value at fault goes to the warning's excerpt, never into its text (logs)
    assert "gender" not in patient and ctx.take_warnings_quoted() == [
        ("PID-8: administrative sex is not in HL7 table 0001", {"PID-8": "Q"})]
    ignore = _ctx(Strictness.IGNORE)
    to_fhir(Message(bad), ignore)
    assert ignore.take_warnings() == []
    with pytest.raises(MappingError) as raised:
        to_fhir(Message(bad), _ctx(Strictness.RAISE))
    assert "'Q'" not in raised.value.message and raised.value.quoted == {"PID-8": "Q"}


def test_every_sample_resource_is_valid_r4(tmp_path: Path, config: JobConfig) -> None:
    summary = convert([HL7], tmp_path, config)
    assert summary.resources["Patient"] > 10 and summary.resources["Observation"] > 100
    problems = []
    for f in sorted((tmp_path / "fhir").glob("*.ndjson")):
        for line in f.read_bytes().splitlines():
            r = orjson.loads(line)
            problems += [f"{r['resourceType']}/{r['id']}: {p}" for p in validate_model(r)]
    assert problems == []


def test_bad_message_in_batch_becomes_error_record_and_others_convert(tmp_path: Path, config: JobConfig) -> None:
    good1, good2 = "\r".join(ADT), "\r".join(ORU)
    broken = "\r".join([ADT[0].replace("MSG0001", "BAD9"), "PID|1||^^^X||Nobody"])
    src = tmp_path / "batch.hl7"
    src.write_text("\r".join(["BHS|^~\\&|A", good1, broken, good2, "BTS|3"]) + "\r")
    summary = convert([src], tmp_path / "out", config)
    assert (summary.attempted, summary.succeeded, summary.rejected) == (3, 2, 1)
    (err,) = [orjson.loads(x) for x in (tmp_path / "out/errors/OperationOutcome.000.ndjson").read_bytes().splitlines()]
    assert err["resourceType"] == "OperationOutcome"
    issue = err["issue"][0]
    assert issue["severity"] == "error" and issue["expression"] == ["PID-3"]
    assert "batch.hl7" in issue["diagnostics"] and "BAD9" not in issue["diagnostics"]
    assert source_excerpt(issue) == {"MSH-10": "BAD9"}
    assert "patient cannot be identified" in issue["details"]["text"]
    assert validate_model(err) == []
    assert summary.resources["Observation"] == 4


@pytest.mark.parametrize("name", ["sample_bad_batch.hl7", "sample_bad_file.hl7", "sample_batch3.hl7", "sample_file3.hl7"])
def test_broken_envelopes_are_reported_not_raised(tmp_path: Path, config: JobConfig, name: str) -> None:
    summary = convert([HL7 / "python-hl7" / name], tmp_path, config)
    assert summary.rejected >= 1
    texts = [orjson.loads(x)["issue"][0]["diagnostics"]
             for x in (tmp_path / "errors/OperationOutcome.000.ndjson").read_bytes().splitlines()]
    assert all(t.startswith(name) for t in texts)


def test_oru_observations_after_prt_and_nte_stay_in_their_order_group() -> None:
    # ORU_R01 v2.5.1: PRT, NTE, TQ1, CTD and SPM may sit between an OBR and its OBX segments; every
    # OBX up to the next ORC/OBR/PID belongs to that OBR.
    msg = [*ORU[:3], "NTE|1||note", "PRT||AD||AD||PPT", "CTD|C^Emergency Contact^HL70131", ORU[3],
           "PRT||AD||AD", ORU[4], "ORC|RE|ORD2", "OBR|2|ORD2||1234-5^Other^LN", "OBX|1|ST|1234-5^Other^LN||x"]
    res = _by_type(to_fhir(Message(msg), _ctx()))
    assert [len(r["result"]) for r in res["DiagnosticReport"]] == [2, 1]
    assert len(res["Observation"]) == 3


def test_local_identifier_types_and_bad_oids_are_not_coded() -> None:
    msg = [ADT[0], "PID|1||A1^^^HOSP&1.1&ISO^MRN~B2^^^GHH&2.16.840.1.113883.19.5&ISO^MR||Doe^Jane||19800101|F"]
    (patient,) = _by_type(to_fhir(Message(msg), _ctx()))["Patient"]
    local, known = patient["identifier"]
    assert local["type"] == {"text": "MRN"}  # not in HL7 table 0203
    assert local["system"].endswith("HOSP")  # "1.1" is no usable OID: the authority name is kept
    assert known["type"]["coding"][0]["code"] == "MR" and known["system"] == "urn:oid:2.16.840.1.113883.19.5"


def test_only_declared_ucum_units_are_coded() -> None:
    msg = [*ORU[:3], "OBX|1|NM|11156-7^LEUKOCYTES^LN||8.2|giga.l-1||N|||F"]
    (obs,) = _by_type(to_fhir(Message(msg), _ctx()))["Observation"]
    assert obs["valueQuantity"] == {"value": 8.2, "unit": "giga.l-1"}
