"""X12 claims carry their data: 834 corrected insured and dependents, people never merged, 837 other
payers, service facility, ordering provider, drugs, ambulance, line control numbers, and the 835 as
CARIN Blue Button expects it (issue 8, item 6).

Hand-written test files (tests/data/x12/*/handwritten/, see PROVENANCE.md) follow the TR3 sections
named in each test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_x12 import DATA, _convert

from etl.config import JobConfig, Strictness
from etl.fhir.context import MappingContext
from etl.sources.x12.common import coverage_id, patient_id
from etl.sources.x12.source import X12Source

AMBULANCE = DATA / "837P" / "handwritten" / "ambulance-cob-drug.837p"
FAMILY = DATA / "834" / "handwritten" / "corrected-insured-family.834"
REMIT = DATA / "835" / "handwritten" / "rendering-no-bpr16.835"
C4BB = "http://hl7.org/fhir/us/carin-bb/CodeSystem/"
THO_ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
GROUP = "https://x12.org/codes/claim-adjustment-group-codes"
ADJ_EXT = "https://fhirflow.dev/fhir/StructureDefinition/claim-adjudication"
SALT = "test-salt"  # the salt _convert uses


def _map(path: Path, text: str | None = None, tmp: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Resources and warnings of one file (or of ``text`` written to ``tmp``)."""
    if text is not None and tmp is not None:
        path = tmp / path.name
        path.write_text(text)
    source, config, ctx = X12Source(), JobConfig(), MappingContext(SALT, Strictness.WARN)
    out: list[dict[str, Any]] = []
    for unit in source.read(path, config):
        assert unit.record is not None, unit.error
        out += source.to_fhir(unit.record, ctx, config)
    return out, ctx.warnings


def _by(res: list[dict[str, Any]], rtype: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in res if r["resourceType"] == rtype}


def _target(res: list[dict[str, Any]], reference: dict[str, str]) -> dict[str, Any]:
    rtype, _, rid = reference["reference"].partition("/")
    return _by(res, rtype)[rid]


def _codes(cc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c["code"]) for c in cc["coding"]}


def _adjudications(element: dict[str, Any]) -> list[dict[str, Any]]:
    """The claim-adjudication extensions of a Claim.insurance or Claim.item, as plain dicts."""
    out = []
    for ext in element.get("extension", []):
        if ext["url"] == ADJ_EXT:
            parts = {p["url"]: p for p in ext["extension"]}
            out.append({"insurance": parts.get("insurance", {}).get("valuePositiveInt"),
                        "category": _codes(parts["category"]["valueCodeableConcept"]),
                        "reason": parts["reason"]["valueCodeableConcept"]["coding"][0]["code"] if "reason" in parts else None,
                        "amount": parts["amount"]["valueMoney"]["value"]})
    return out


def _claims(res: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["identifier"][0]["value"]: c for c in res if c["resourceType"] == "Claim"}


# --- 834 (005010X220A1 2000 INS, 2100A/2100B NM1) ------------------------------------------------------
def test_834_corrected_insured_nm1_74_is_the_member_name() -> None:
    # 2100A NM1*74*1*DOE*JOHN (corrected insured), 2100B NM1*70*1*DOW*JON (the prior, incorrect name)
    res, errors = _convert(FAMILY)
    assert errors == []
    patients = list(_by(res, "Patient").values())
    assert [p["name"][0]["family"] for p in patients] == ["DOE", "DOE", "ROE"]
    assert patients[0]["birthDate"] == "1970-01-01"
    assert sum(r["resourceType"] == "Coverage" for r in res) == 3


def test_834_dependent_is_its_own_patient_related_to_the_subscriber_of_its_member_id(tmp_path: Path) -> None:
    # INS*N (dependent) after a subscriber of *another* member id: its subscriber is the one of its REF*0F
    head, sub, dep, rest = FAMILY.read_text().split("INS*")
    other, trailer = rest.replace("REF*0F*M100", "REF*0F*M200").split("SE*")
    res, _ = _map(FAMILY, f"{head}INS*{sub}INS*{other}INS*{dep}SE*{trailer}", tmp_path)
    john = patient_id(MappingContext(SALT), "999888777", "M100")
    patients = _by(res, "Patient")
    (jimmy,) = [p for p in patients.values() if p["name"][0]["given"] == ["JIMMY"]]
    assert jimmy["id"] != john and john in patients and jimmy["birthDate"] == "2015-01-01"
    (related,) = _by(res, "RelatedPerson").values()
    assert related["patient"] == {"reference": f"Patient/{john}"}
    (cov,) = [c for c in _by(res, "Coverage").values() if c["beneficiary"]["reference"] == f"Patient/{jimmy['id']}"]
    assert cov["subscriber"] == {"reference": f"Patient/{john}"}


def test_834_two_subscribers_under_one_member_id_are_two_patients_and_a_warning() -> None:
    res, warnings = _map(FAMILY)
    patients = _by(res, "Patient")
    john, roe = (next(p for p in patients.values() if p["name"][0]["given"][0] == g) for g in ("JOHN", "RICHARD"))
    assert john["id"] != roe["id"] and roe["birthDate"] == "1965-02-02"
    (warning,) = [w for w in warnings if "member id" in w]
    assert warning.startswith("2000 REF*0F:")
    assert not any(v in warning for v in ("ROE", "RICHARD", "DOE", "1965", "M100"))  # no values in the text
    roe_cov = [c for c in _by(res, "Coverage").values() if c["beneficiary"]["reference"] == f"Patient/{roe['id']}"]
    assert len(roe_cov) == 1 and roe_cov[0]["subscriber"]["reference"] == f"Patient/{roe['id']}"


# --- 837P people (2000B/2010BA, 2000C/2010CA) -----------------------------------------------------------
def test_837_two_subscribers_under_one_member_id_are_not_merged() -> None:
    res, warnings = _map(AMBULANCE)
    claims = _claims(res)
    john, roe = (_target(res, claims[c]["patient"]) for c in ("AMB1", "AMB3"))
    assert john["id"] != roe["id"] and roe["name"][0]["family"] == "ROE"
    (warning,) = [w for w in warnings if "member id" in w]
    assert warning.startswith("2010BA NM109:") and "ROE" not in warning and "M100" not in warning
    roe_cov = _target(res, claims["AMB3"]["insurance"][0]["coverage"])
    assert roe_cov["beneficiary"]["reference"] == f"Patient/{roe['id']}"
    assert roe_cov["id"] != _target(res, claims["AMB1"]["insurance"][1]["coverage"])["id"]


def test_837_dependent_has_its_own_patient_and_coverage() -> None:
    res, warnings = _map(AMBULANCE)
    claims = _claims(res)
    jimmy = _target(res, claims["AMB2"]["patient"])
    assert jimmy["name"][0]["given"] == ["JIMMY"] and jimmy["birthDate"] == "2015-01-01"
    cov = _target(res, claims["AMB2"]["insurance"][0]["coverage"])
    assert cov["beneficiary"]["reference"] == f"Patient/{jimmy['id']}"
    assert cov["subscriber"] == claims["AMB1"]["patient"]  # the same subscriber, DOE JOHN, not merged into ROE
    own = next(i for i in claims["AMB1"]["insurance"] if i["focal"])
    assert cov["id"] != own["coverage"]["reference"][9:]
    assert len([w for w in warnings if "member id" in w]) == 1  # the same subscriber twice is no conflict


# --- 837P other payers (2320, 2330A/2330B, 2430) ----------------------------------------------------------
def test_837_other_payer_is_a_further_insurance_with_its_paid_amounts_and_adjustments() -> None:
    res, _ = _map(AMBULANCE)
    claim = _claims(res)["AMB1"]
    first, second = claim["insurance"]
    # SBR01 order: the 2320 primary (SBR*P) is sequence 1, the claim's own payer (SBR*S) sequence 2
    assert (first["sequence"], first["focal"], second["sequence"], second["focal"]) == (1, False, 2, True)
    other = _target(res, first["coverage"])
    assert other["subscriberId"] == "OA200" and other["order"] == 1
    assert _target(res, other["payor"][0])["name"] == "PAYER A"
    assert other["beneficiary"] == claim["patient"] and other["subscriber"] == claim["patient"]  # SBR02 18
    # CAS*PR*1*50*1*2*20 ; AMT*D*200
    assert _adjudications(first) == [
        {"insurance": None, "category": {(THO_ADJ, "deductible"), (GROUP, "PR")}, "reason": "1", "amount": 50},
        {"insurance": None, "category": {(C4BB + "C4BBAdjudication", "coinsurance"), (GROUP, "PR")}, "reason": "2",
         "amount": 20},
        {"insurance": None, "category": {(C4BB + "C4BBAdjudication", "priorpayerpaid")}, "reason": None, "amount": 200}]
    # 2430 SVD*PA*180 ; CAS*CO*45*50 (line 1), SVD*PA*20 (line 2)
    assert _adjudications(claim["item"][0]) == [
        {"insurance": 1, "category": {(C4BB + "C4BBAdjudication", "priorpayerpaid")}, "reason": None, "amount": 180},
        {"insurance": 1, "category": {(C4BB + "C4BBAdjudicationDiscriminator", "adjustmentreason"), (GROUP, "CO")},
         "reason": "45", "amount": 50}]
    assert [a["amount"] for a in _adjudications(claim["item"][1])] == [20]


def test_837_other_subscriber_who_is_not_the_patient_is_a_related_person() -> None:
    # demo.cob.example3.B: 2320 SBR*P*01 (the patient is the spouse), 2330A NM1*IL*1*SMITH*JANE
    res, errors = _convert(DATA / "837P" / "linuxforhealth-x12" / "demo.cob.example3.B.837")
    assert errors == []
    (claim,) = _claims(res).values()
    other = _target(res, claim["insurance"][0]["coverage"])
    spouse = _target(res, other["subscriber"])
    assert spouse["resourceType"] == "RelatedPerson" and spouse["name"][0]["given"] == ["JANE"]
    assert spouse["patient"] == claim["patient"] and _codes(other["relationship"]) == {
        ("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "spouse")}
    assert [a["amount"] for a in _adjudications(claim["insurance"][0]) if a["reason"] is None] == [39.15, 36.89]


# --- 837P facility, ordering provider, drugs, ambulance, REF*6R ---------------------------------------
@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_837_service_facility_is_the_claim_facility(kind: str, tmp_path: Path) -> None:
    if kind == "837P":  # 2310C NM1*77*2*DIALYSIS CENTER*****XX*1234567891
        res, _ = _map(AMBULANCE)
        name = "DIALYSIS CENTER"
    else:  # 837I 2310E (after the 2310A attending provider)
        src = DATA / "837I" / "linuxforhealth-x12" / "institutional-claim.837i"
        text = src.read_text().replace("REF*1G*B99937~", "REF*1G*B99937~NM1*77*2*COMMUNITY HOSPITAL*****XX*1234567891~"
                                       "N3*1 HOSPITAL DR~N4*CENTERVILLE*PA*17111~").replace("SE*42*", "SE*45*")
        res, _ = _map(src, text, tmp_path)
        name = "COMMUNITY HOSPITAL"
    claim = next(iter(_claims(res).values()))
    loc = _target(res, claim["facility"])
    assert loc["name"] == name and loc["identifier"][0] == {"system": "http://hl7.org/fhir/sid/us-npi",
                                                            "value": "1234567891"}
    assert loc["address"]["city"] in ("TOWN", "CENTERVILLE")
    assert _target(res, loc["managingOrganization"])["resourceType"] == "Organization"


def test_837_ordering_provider_is_in_the_care_team_of_its_line() -> None:
    res, _ = _map(AMBULANCE)
    claim = _claims(res)["AMB1"]
    (seq,) = claim["item"][0]["careTeamSequence"]
    member = claim["careTeam"][seq - 1]
    assert ("http://terminology.hl7.org/CodeSystem/claimcareteamrole", "other") in _codes(member["role"])
    assert "DK" in {c for _, c in _codes(member["role"])}
    assert _target(res, member["provider"])["name"][0]["family"] == "ORDER"
    # demo.drug.example10.2 names one ordering provider in all six 2420E loops: one care team entry
    res, _ = _map(DATA / "837P" / "linuxforhealth-x12" / "demo.drug.example10.2.837")
    (claim,) = _claims(res).values()
    assert len(claim["careTeam"]) == 1 and all(it["careTeamSequence"] == [1] for it in claim["item"])


def test_837_drug_identification_is_the_line_detail() -> None:
    # 2410 LIN**N4*00003029328 ; CTP****2*ML ; REF*XZ*RX12345
    res, _ = _map(AMBULANCE)
    (detail,) = _claims(res)["AMB1"]["item"][1]["detail"]
    assert _codes(detail["productOrService"]) == {("http://hl7.org/fhir/sid/ndc", "00003029328")}
    assert detail["quantity"] == {"value": 2, "unit": "milliliter", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert detail["extension"][0]["valueIdentifier"]["value"] == "RX12345"
    res, _ = _map(DATA / "837P" / "linuxforhealth-x12" / "demo.drug.example10.2.837")
    (claim,) = _claims(res).values()
    assert [it["detail"][0]["quantity"]["value"] for it in claim["item"][1:]] == [7, 14, 7, 14, 7]


def test_837_ambulance_transport_is_carin_supporting_info_linked_to_every_line() -> None:
    # CR1*LB*180**A*DH*12****ROUND TRIP...*PATIENT UNABLE TO SIT ; CRC*07*Y*04*09 ; 2310E NM1*PW, 2310F NM1*45
    res, _ = _map(AMBULANCE)
    claim = _claims(res)["AMB1"]
    info = {i["sequence"]: i for i in claim["supportingInfo"]}
    by_cat: dict[str, list[dict[str, Any]]] = {}
    for i in info.values():
        by_cat.setdefault(i["category"]["coding"][0]["code"], []).append(i)
    assert by_cat["patientweight"][0]["valueQuantity"]["code"] == "[lb_av]"
    assert by_cat["patientweight"][0]["valueQuantity"]["value"] == 180
    assert by_cat["ambulancetransportreason"][0]["reason"]["coding"][0]["code"] == "A"
    assert by_cat["transportationdistance"][0]["valueQuantity"] == {
        "value": 12, "unit": "mile", "system": "http://unitsofmeasure.org", "code": "[mi_i]"}
    assert by_cat["roudtrippurpose"][0]["valueString"] == "ROUND TRIP TO DIALYSIS"
    assert by_cat["stretcherpurpose"][0]["valueString"] == "PATIENT UNABLE TO SIT"
    assert by_cat["pickuplocation"][0]["valueString"] == "10 HOME ST; TOWN, MD 20705"
    assert by_cat["dropofflocation"][0]["valueString"] == "DIALYSIS CENTER; 5 CENTER RD; TOWN, MD 20705"
    certified = [i for i in by_cat["info"] if i.get("valueBoolean")]
    assert sorted(i["code"]["coding"][0]["code"] for i in certified) == ["04", "09"]
    # CARIN's C4BBSupportingInfoType has no "info": THO claiminformationcategory's
    assert {i["category"]["coding"][0]["system"] for i in certified} == {
        "http://terminology.hl7.org/CodeSystem/claiminformationcategory"}
    transport = {s for cat in ("patientweight", "ambulancetransportreason", "transportationdistance", "roudtrippurpose",
                               "stretcherpurpose", "pickuplocation", "dropofflocation") for s in
                 (i["sequence"] for i in by_cat[cat])}
    assert all(transport <= set(item["informationSequence"]) for item in claim["item"])


def test_837_line_item_control_number_is_the_item_trace_number() -> None:
    trace = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-itemTraceNumber"
    res, _ = _map(AMBULANCE)
    values = [[e["valueIdentifier"]["value"] for e in it.get("extension", []) if e["url"] == trace]
              for it in _claims(res)["AMB1"]["item"]]
    assert values == [["LINE-0001"], ["LINE-0002"]]
    res, _ = _map(DATA / "837P" / "linuxforhealth-x12" / "demo.example6.837")  # REF*6R*01
    (claim,) = _claims(res).values()
    assert claim["item"][0]["extension"][0]["valueIdentifier"]["value"] == "01"


# --- 835 (005010X221A1 BPR, 2100 CLP/NM1/REF, 2110 SVC/CAS) -----------------------------------------------
def _eob(path: Path = REMIT) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    res, warnings = _map(path)
    return res, next(r for r in res if r["resourceType"] == "ExplanationOfBenefit"), warnings


def test_835_rendering_provider_is_the_care_team() -> None:
    res, eob, _ = _eob()  # 2100 NM1*82*1*DRIVER*DANA****XX*1234567802 ; 2110 REF*HPI*1234567802, REF*HPI*1234567819
    claim_level, line_only = eob["careTeam"]
    assert {_codes(m["role"]).pop() for m in eob["careTeam"]} == {(C4BB + "C4BBClaimCareTeamRole", "rendering")}
    prov = _target(res, claim_level["provider"])
    assert prov["resourceType"] == "Practitioner" and prov["identifier"][0]["value"] == "1234567802"
    assert _target(res, line_only["provider"])["identifier"][0]["value"] == "1234567819"
    assert [it["careTeamSequence"] for it in eob["item"]] == [[1], [2]]
    # the 835's rendering Practitioner is the 837's of the same NPI (keyed by NPI)
    assert prov["id"] == MappingContext(SALT).make("Practitioner", "npi", "1234567802")


def test_835_adjustments_carry_carin_categories_beside_the_x12_group() -> None:
    _, eob, _ = _eob()
    # 2100 CAS*OA*23*200: the prior payer's impact
    assert _codes(eob["adjudication"][0]["category"]) == {(C4BB + "C4BBAdjudication", "priorpayerpaid"), (GROUP, "OA")}
    cats = [_codes(a["category"]) for a in eob["item"][0]["adjudication"] if "reason" in a]
    # 2110 CAS*PR*2*20 (coinsurance), CAS*CO*45*10 (contractual: CARIN's adjustmentreason slice)
    assert cats == [{(C4BB + "C4BBAdjudication", "coinsurance"), (GROUP, "PR")},
                    {(C4BB + "C4BBAdjudicationDiscriminator", "adjustmentreason"), (GROUP, "CO")}]


def test_835_insurance_coverage_is_the_coverage_the_837_names() -> None:
    _, eob, _ = _eob()  # REF*2U*PB, NM1*QC ... MI*M100, REF*1L*GRP1
    res837, _ = _map(AMBULANCE)
    own = next(i for i in _claims(res837)["AMB1"]["insurance"] if i["focal"])
    assert eob["insurance"][0]["coverage"]["reference"] == own["coverage"]["reference"]
    assert own["coverage"]["reference"] == f"Coverage/{coverage_id(MappingContext(SALT), 'PB', 'M100', 'GRP1')}"


@pytest.mark.parametrize("path", [REMIT, DATA / "835" / "linuxforhealth-x12" / "managed-care.835"],
                         ids=["no BPR16", "BPR16 not a date"])
def test_835_payment_date_falls_back_to_isa09_with_a_warning(path: Path) -> None:
    _, eob, warnings = _eob(path)
    assert any(w.startswith("BPR16:") and "ISA09" in w for w in warnings), warnings
    assert eob["payment"]["date"] == "20" + {REMIT: "24-01-15"}.get(path, "13-10-31")


def test_835_patient_who_is_not_the_insured_is_not_the_insured_patient(tmp_path: Path) -> None:
    # NM1*IL (insured) beside NM1*QC (patient): the patient is a dependent, not the subscriber's Patient
    text = REMIT.read_text().replace("NM1*QC*1*DOE*JOHN****MI*M100~\n",
                                     "NM1*QC*1*DOE*JIMMY~\nNM1*IL*1*DOE*JOHN****MI*M100~\n")
    text = text.replace("SE*26*", "SE*27*")
    res, _ = _map(REMIT, text, tmp_path)
    eob = next(r for r in res if r["resourceType"] == "ExplanationOfBenefit")
    assert eob["patient"]["reference"] != f"Patient/{patient_id(MappingContext(SALT), 'PB', 'M100')}"
    assert "reference" not in eob["insurance"][0]["coverage"]  # the dependent's Coverage key is not known here


# --- HAPI $validate (R4 base) of every resource of the hand-written files --------------------------------
@pytest.mark.hapi
def test_every_resource_of_the_hand_written_files_validates_on_hapi(hapi_url: str) -> None:
    import httpx

    from etl.fhir.validation import validate_on_server

    failures = []
    with httpx.Client(timeout=120) as client:
        for path in (AMBULANCE, FAMILY, REMIT):
            res, _ = _map(path)
            failures += [f"{path.name} {r['resourceType']}: {e}" for r in res for e in validate_on_server(client, hapi_url, r)]
    assert failures == [], "\n".join(failures)
