"""HL7 v2 field fidelity (issue 11): units, race/ethnicity, identifiers, NK1, Locations,
Practitioners, Organizations, report identity, Provenance, merges."""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.fhir.validation import validate_model
from etl.sources.hl7v2.model import Message
from etl.sources.hl7v2.to_fhir import to_fhir

MSH = "MSH|^~\\&|LAB|GHH^2.16.840.1.113883.19.5^ISO|EHR|GHH|20240106120000+0100||{type}|CTRL1|P|2.5.1"
PID = ("PID|1||555444^^^GHH^MR~X9^^^OTHER^PI||Everyman^Adam^A||19610615|M|Alias^Al|2106-3^White^CDCREC~"
       "2028-9^Asian^CDCREC~2131-1^Other Race^CDCREC|1 Main St^^Ann Arbor^MI^48104||||||||123-45-6789|"
       "D1234567^MI^20301231||2186-5^Not Hispanic or Latino^CDCREC")
PD1 = "PD1|||Good Health Clinic^^^^^GHH^XX^^^C77|D77^Family^Fran^^^Dr^^^GHH"
NK1 = "NK1|1|Everyman^Eve|SPO^Spouse^HL70063|1 Main St^^Ann Arbor^MI^48104|^PRN^PH^^^734^5551212||EP^Emergency Contact^HL70131"
PV1 = ("PV1|1|I|4E^401^B^GHH^^N^^^East wing||||004777^Attend^Aaron^^^Dr^^^GHH|005888^Refer^Rita^^^^^^GHH|||||||||"
       "004777^Attend^Aaron^^^Dr^^^GHH|V100^^^GHH|" + "|" * 24 + "20240105083000+0100")


def _ctx() -> MappingContext:
    return MappingContext("salt")


def _by_type(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        out.setdefault(r["resourceType"], []).append(r)
    return out


def _msg(mtype: str, *segments: str) -> Message:
    return Message([MSH.format(type=mtype), *segments])


def test_adt_patient_race_ethnicity_identifiers_and_general_practitioner() -> None:
    res = _by_type(to_fhir(_msg("ADT^A01", "EVN|A01", PID, PD1, NK1, PV1), _ctx()))
    (patient,) = res["Patient"]
    race, eth = patient["extension"][:2]
    assert race["url"].endswith("us-core-race") and eth["url"].endswith("us-core-ethnicity")
    assert [(e["url"], e.get("valueCoding", {}).get("code")) for e in race["extension"]] == [
        ("ombCategory", "2106-3"), ("ombCategory", "2028-9"), ("detailed", "2131-1"), ("text", None)]
    assert eth["extension"][0]["valueCoding"]["code"] == "2186-5"
    by_value = {i["value"]: i for i in patient["identifier"]}
    assert by_value["123-45-6789"]["system"] == "http://hl7.org/fhir/sid/us-ssn"  # PID-19
    dl = by_value["D1234567"]  # PID-20: DLN number ^ issuing state ^ expiration
    assert dl["type"]["coding"][0]["code"] == "DL" and dl["period"] == {"end": "2030-12-31"}
    assert dl["assigner"] == {"display": "MI"}
    assert [n.get("family") for n in patient["name"]] == ["Everyman", "Alias"]  # PID-5, PID-9
    (org,) = res["Organization"][:1]
    assert org["name"] == "Good Health Clinic" and org["identifier"][0]["value"] == "C77"  # PD1-3 XON-10
    gp = {r["reference"].split("/")[0] for r in patient["generalPractitioner"]}
    assert gp == {"Organization", "Practitioner"}  # PD1-3, PD1-4
    assert all(validate_model(r) == [] for rs in res.values() for r in rs)


def test_nk1_becomes_related_person() -> None:
    res = _by_type(to_fhir(_msg("ADT^A04", PID, NK1, PV1), _ctx()))
    (rp,) = res["RelatedPerson"]
    assert rp["patient"] == {"reference": f"Patient/{res['Patient'][0]['id']}"}
    assert rp["name"] == [{"family": "Everyman", "given": ["Eve"]}]
    assert rp["relationship"][0]["coding"] == [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "SPS"}]
    assert rp["relationship"][1]["coding"][0]["code"] == "EP"  # NK1-7 contact role
    assert rp["telecom"] == [{"system": "phone", "value": "7345551212", "use": "home"}]


def test_pv1_locations_are_a_hierarchy_and_practitioners_are_resources() -> None:
    res = _by_type(to_fhir(_msg("ADT^A01", PID, PV1), _ctx()))
    (enc,) = res["Encounter"]
    locs = {loc["id"]: loc for loc in res["Location"]}
    bed = locs[enc["location"][0]["location"]["reference"].split("/")[1]]
    chain = [bed["name"]]
    node = bed
    while "partOf" in node:
        node = locs[node["partOf"]["reference"].split("/")[1]]
        chain.append(node["name"])
    assert chain == ["B", "401", "4E", "GHH"]  # bed, room, point of care, facility (PL-3, -2, -1, -4)
    assert [loc["physicalType"]["coding"][0]["code"] for loc in (bed, node)] == ["bd", "si"]
    # PV1-7 and PV1-17 name the same doctor: one Practitioner, two participations.
    (attend, refer) = sorted(res["Practitioner"], key=lambda p: p["name"][0]["family"])
    assert attend["identifier"][0]["value"] == "004777" and attend["name"][0]["prefix"] == ["Dr"]
    roles = [(p["type"][0]["coding"][0]["code"], p["individual"]["reference"]) for p in enc["participant"]]
    assert roles == [("ATND", f"Practitioner/{attend['id']}"), ("REF", f"Practitioner/{refer['id']}"),
                     ("ADM", f"Practitioner/{attend['id']}")]


def test_two_obr_groups_sharing_a_filler_number_stay_two_reports() -> None:
    # The same filler number (the lab's accession) on two orders of one message: each keeps its
    # report and its observations (keyed on filler alone, the second replaced the first).
    msg = _msg("ORU^R01", PID,
               "ORC|RE|P1|F1^LAB", "OBR|1|P1|F1^LAB|24331-1^Lipid panel^LN|||20240106090000+0100|||||||||D9^Order^Olga",
               "OBX|1|NM|2093-3^Cholesterol^LN||196|mg/dL^milligram per deciliter^UCUM|||||F|||||R1^Reader^Rob||||"
               "|||Big Lab^^^^^CLIA^XX^^^05D1234567",
               "ORC|RE|P2|F1^LAB", "OBR|2|P2|F1^LAB|1558-6^Glucose^LN|||20240106090000+0100",
               "OBX|1|NM|1558-6^Glucose^LN||5.4|mmol/L^^^mmol/L^^UCUM|||||F",
               "OBX|2|NM|1558-6^Glucose^LN||99|mg per dl|||||F")
    res = _by_type(to_fhir(msg, _ctx()))
    reports = res["DiagnosticReport"]
    assert len(reports) == 2 and len({r["id"] for r in reports}) == 2
    referenced = [ref["reference"] for r in reports for ref in r["result"]]
    assert sorted(referenced) == sorted(f"Observation/{o['id']}" for o in res["Observation"])  # none orphaned
    chol, gluc, gluc2 = res["Observation"]
    assert chol["valueQuantity"] == {"value": 196, "unit": "milligram per deciliter",
                                     "system": "http://unitsofmeasure.org", "code": "mg/dL"}
    assert gluc["valueQuantity"] == {"value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                     "code": "mmol/L"}  # UCUM in the alternate triplet (OBX-6.4-6)
    assert gluc2["valueQuantity"] == {"value": 99, "unit": "mg per dl"}  # undeclared: text only
    performers = {p["reference"].split("/")[0] for p in chol["performer"]}
    assert performers == {"Practitioner", "Organization"}  # OBX-16, OBX-23
    lab = next(o for o in res["Organization"] if o.get("name") == "Big Lab")
    assert lab["identifier"][0]["value"] == "05D1234567"
    (sr1, sr2) = res["ServiceRequest"]
    assert reports[0]["basedOn"] == [{"reference": f"ServiceRequest/{sr1['id']}"}]
    assert sr1["requester"]["reference"].startswith("Practitioner/")  # OBR-16
    assert all(validate_model(r) == [] for rs in res.values() for r in rs)


def test_provenance_targets_every_resource_of_the_message() -> None:
    msg = _msg("ADT^A01", PID, NK1, PV1, "ZPI|1|custom^stuff")
    msg.source_file, msg.position = "feed.hl7", "message 3 at line 40"
    resources = to_fhir(msg, _ctx())
    prov = resources[-1]
    assert prov["resourceType"] == "Provenance"
    targets = {t["reference"] for t in prov["target"]}
    agent = prov["agent"][0]
    agents = {agent["who"]["reference"], agent["onBehalfOf"]["reference"]}  # MSH-3 Device for MSH-4 Organization
    assert {a.split("/")[0] for a in agents} == {"Device", "Organization"}
    assert targets == {f"{r['resourceType']}/{r['id']}" for r in resources[:-1]} - agents
    assert prov["recorded"] == "2024-01-06T12:00:00+01:00" == prov["occurredDateTime"]  # MSH-7, zone kept
    assert prov["entity"][0]["what"]["identifier"]["value"] == "CTRL1"  # MSH-10
    assert "feed.hl7" in prov["entity"][0]["what"]["display"]
    exts = {e["url"].rsplit("/", 1)[1]: e["valueString"] for e in prov["extension"]}
    assert exts == {"source-file": "feed.hl7", "hl7v2-z-segment": "ZPI|1|custom^stuff"}
    assert validate_model(prov) == []


def test_a40_merge_links_survivor_and_retired_patient() -> None:
    a01 = to_fhir(_msg("ADT^A01", "PID|1||OLD1^^^GHH^MR||Everyman^Adam"), _ctx())[0]
    res = to_fhir(_msg("ADT^A40", "EVN|A40", "PID|1||NEW1^^^GHH^MR||Everyman^Adam", "MRG|OLD1^^^GHH^MR"), _ctx())
    retired, survivor = (r for r in res if r["resourceType"] == "Patient")
    assert retired["id"] == a01["id"]  # the same id the old patient was given
    assert survivor["link"] == [{"other": {"reference": f"Patient/{retired['id']}"}, "type": "replaces"}]
    assert retired["link"] == [{"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}]
    assert retired["active"] is False and retired["identifier"][0]["value"] == "OLD1"
    assert all(validate_model(r) == [] for r in res)


def test_a45_visit_move_carries_the_mrg_visit_number() -> None:
    res = _by_type(to_fhir(_msg("ADT^A45", "PID|1||NEW1^^^GHH^MR", "MRG|OLD1^^^GHH^MR|||||V0OLD", PV1), _ctx()))
    assert len(res["Patient"]) == 1  # a move, not a merge
    (enc,) = res["Encounter"]
    assert {"use": "old", "value": "V0OLD"} in enc["identifier"]


def test_cancel_admit_cancels_the_encounter() -> None:
    a01 = _by_type(to_fhir(_msg("ADT^A01", PID, PV1), _ctx()))["Encounter"][0]
    a11 = _by_type(to_fhir(_msg("ADT^A11", PID, PV1), _ctx()))["Encounter"][0]
    assert a11["id"] == a01["id"] and a11["status"] == "cancelled"


def test_a60_allergies_and_adt_clinical_segments() -> None:
    msg = _msg("ADT^A60", PID, PV1, "IAM|1|DA|70618^Penicillin^RXNORM|SV|HIVES|A",
               "DG1|1||I10^Essential hypertension^I10|||A", "PR1|1||0FT44ZZ^Resection^I10P|||20240105",
               "IN1|1|PLAN1^Gold|INS1^^^^NIIP|Acme Insurance|||||G77||||20240101||||SEL|||||||||||||||||||POL123")
    res = _by_type(to_fhir(msg, _ctx()))
    (allergy,) = res["AllergyIntolerance"]
    assert allergy["code"]["coding"][0]["code"] == "70618" and allergy["criticality"] == "high"
    assert allergy["category"] == ["medication"] and allergy["reaction"][0]["manifestation"] == [{"text": "HIVES"}]
    assert res["Condition"][0]["code"]["coding"][0]["code"] == "I10"
    assert res["Procedure"][0]["code"]["coding"][0]["code"] == "0FT44ZZ"
    (cov,) = res["Coverage"]
    payor = next(o for o in res["Organization"] if o["id"] == cov["payor"][0]["reference"].split("/")[1])
    assert payor["name"] == "Acme Insurance" and cov["subscriberId"] == "POL123"
    assert cov["relationship"]["coding"][0]["code"] == "self"
    assert all(validate_model(r) == [] for rs in res.values() for r in rs)
