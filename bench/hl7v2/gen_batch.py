"""Generate a synthetic HL7 v2.5.1 batch file (FHS/BHS … BTS/FTS) for benchmarks.

Shaped like a hospital interface feed: a pool of patients (default 2,000) that recur; about 35% of the
messages are ADT (A01 admit, A03 discharge, A04 register, A08 update: MSH, EVN, PID, PV1, sometimes
NK1/AL1/DG1), 35% lab results ORU^R01 (MSH, PID, PV1, ORC, OBR, 1-12 OBX with NM/CWE/ST values,
sometimes NTE), and 30% the other types issue 11's bench mixes in: VXU^V04 (ORC, RXA, RXR, OBX),
RDE^O11 (ORC, RXE, RXR), SIU^S12 (SCH, AIL, AIP) and MDM^T02 (TXA, OBX TX lines). Segments end with CR, as on the wire. Deterministic (a seeded RNG): the same arguments
give the same bytes. Write under ``bench/.data/`` (git-ignored, never committed).

Usage: python bench/hl7v2/gen_batch.py OUT.hl7 [--messages N]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

FIRST = ("JANE", "JOHN", "MARIA", "JAMES", "LINDA", "ROBERT", "SUSAN", "DAVID", "KAREN", "MICHAEL")
LAST = ("DOE", "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "MARTINEZ")
STREETS = ("MAIN ST", "ELM ST", "OAK AVE", "PINE RD", "MAPLE DR", "CEDAR LN", "PARK BLVD", "HILL ST")
TOWNS = (("BALTIMORE", "MD", "21201"), ("ROCKVILLE", "MD", "20850"), ("RICHMOND", "VA", "23219"),
         ("DOVER", "DE", "19901"))
DOCTORS = tuple(f"{1000 + k}^{LAST[(k * 3) % 10]}^{FIRST[k % 10]}^^^DR^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI"
                for k in range(40))
# (LOINC, display, unit, low, high) for numeric results of a basic metabolic panel / CBC.
NUMERIC = (("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 140),
           ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3),
           ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145),
           ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1),
           ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12, 17),
           ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4, 11),
           ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400),
           ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4, 6.5))
PANELS = (("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
          ("58410-2", "CBC panel - Blood by Automated count"), ("4548-4", "Hemoglobin A1c panel"))
CODED = (("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection"),
         ("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum"))
RESULTS = (("260385009", "Negative"), ("260373001", "Detected"), ("260415000", "Not detected"))
DIAGNOSES = (("I10", "Essential (primary) hypertension"), ("E11.9", "Type 2 diabetes mellitus without complications"),
             ("J18.9", "Pneumonia, unspecified organism"), ("N39.0", "Urinary tract infection, site not specified"))


def _patient(m: int) -> tuple[str, str]:
    town = TOWNS[m % len(TOWNS)]
    sex = "F" if m % 2 else "M"
    pid = (f"PID|1||MRN{m:08d}^^^BENCHHOSP&2.16.840.1.113883.3.999&ISO^MR||{LAST[m % 10]}{m}^{FIRST[(m // 10) % 10]}^"
           f"{'ABCDEFGH'[m % 8]}||{1940 + m % 60}{m % 12 + 1:02d}{m % 28 + 1:02d}|{sex}||2106-3^White^CDCREC|"
           f"{m % 9000 + 1} {STREETS[m % 8]}^^{town[0]}^{town[1]}^{town[2]}^USA^H||^PRN^PH^^1^410^555{m % 10000:04d}|||"
           f"{'SMW'[m % 3]}^^HL70002||ACCT{m:08d}")
    return pid, f"MRN{m:08d}"


VACCINES = (("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", "PFR"), ("141", "Influenza, seasonal, injectable", "SKB"),
            ("115", "Tdap", "SKB"), ("133", "Pneumococcal conjugate PCV 13", "PFR"))
DRUGS = (("197361", "Amlodipine 5 MG Oral Tablet"), ("860975", "Metformin 500 MG Oral Tablet"),
         ("314076", "Lisinopril 10 MG Oral Tablet"))


def _other(rng: random.Random, k: int, pid: str, pv1: str, when: str, doctor: str) -> str:
    kind = rng.choice(("VXU", "RDE", "SIU", "MDM"))
    if kind == "VXU":
        code, text, mvx = rng.choice(VACCINES)
        return "\r".join([f"MSH|^~\\&|IIS|BENCHHOSP|FHIRFLOW|BENCH|{when}||VXU^V04^VXU_V04|VXU{k:09d}|P|2.5.1",
                          pid, f"ORC|RE||IZ{k:09d}^BENCHEHR", f"RXA|0|1|{when}||{code}^{text}^CVX|0.3|mL^mL^UCUM||00^New Record^NIP001|"
                          f"{doctor}|||||LOT{k % 997}|20261231|{mvx}^^MVX|||CP|A",
                          "RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163",
                          f"OBX|1|CE|64994-7^Vaccine funding program eligibility^LN|1|V01^Not VFC eligible^HL70064||||||F|||{when}"])
    if kind == "RDE":
        code, text = rng.choice(DRUGS)
        return "\r".join([f"MSH|^~\\&|PHARM|BENCHHOSP|FHIRFLOW|BENCH|{when}||RDE^O11^RDE_O11|RDE{k:09d}|P|2.5.1",
                          pid, pv1, f"ORC|NW|RX{k:09d}^BENCHEHR|||||||{when}|||{doctor}",
                          f"RXE|^^^{when}|{code}^{text}^RXNORM|1||TAB^Tablet^HL70292|||||30|TAB^Tablet^HL70292|2",
                          "RXR|PO^Oral^HL70162"])
    if kind == "SIU":
        start = f"{when}00"
        return "\r".join([f"MSH|^~\\&|SCHED|BENCHHOSP|FHIRFLOW|BENCH|{when}||SIU^S12^SIU_S12|SIU{k:09d}|P|2.5.1",
                          f"SCH|APT{k:09d}^BENCHEHR|APT{k:09d}^BENCHSCH|||||FOLLOWUP^Follow-up^HL70276|ROUTINE^Routine^HL70277|"
                          f"30|min|^^30^{start}-0500^{start}-0500||||||||||||||Booked",
                          pid, "RGS|1|A", "AIL|1|A|CLINIC^101^A^BENCHHOSP", f"AIP|1|A|{doctor}|D^Physician"])
    lines = [f"OBX|{i + 1}|TX|11506-3^Progress note^LN||Patient seen for follow-up, line {i + 1}.||||||F"
             for i in range(rng.randint(2, 8))]
    return "\r".join([f"MSH|^~\\&|DOCS|BENCHHOSP|FHIRFLOW|BENCH|{when}||MDM^T02^MDM_T02|MDM{k:09d}|P|2.5.1",
                      f"EVN|T02|{when}", pid, pv1,
                      f"TXA|1|PN^Progress note^HL70270|TX|{when}|{doctor}||{when}||{doctor}|||DOC{k:09d}^BENCHEHR|||||AU",
                      *lines])


def _message(rng: random.Random, k: int, patients: list[tuple[str, str]]) -> str:
    pid, _ = patients[rng.randrange(len(patients))]
    when = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}"
    visit = f"V{k // 3:09d}"
    doctor = rng.choice(DOCTORS)
    pv1 = (f"PV1|1|{rng.choice('IOE')}|{rng.choice(('4EAST', '3WEST', 'ICU', 'ED'))}^{rng.randint(100, 499)}^"
           f"{rng.choice('AB')}^BENCHHOSP||||{doctor}|||MED||||7|||{doctor}||{visit}|||||||||||||||||||||||||{when}")
    draw = rng.random()
    if draw < 0.30:
        return _other(rng, k, pid, pv1, when, doctor)
    if draw < 0.65:
        event = rng.choice(("A01", "A01", "A03", "A04", "A08", "A08"))
        segs = [f"MSH|^~\\&|ADT|BENCHHOSP|FHIRFLOW|BENCH|{when}||ADT^{event}^ADT_A01|ADT{k:09d}|P|2.5.1",
                f"EVN|{event}|{when}", pid, pv1]
        if rng.random() < 0.3:
            segs.append("NK1|1|DOE^JAMIE|SPO^Spouse^HL70063|1 MAIN ST^^BALTIMORE^MD^21201^USA|^PRN^PH^^1^410^5550000")
        if rng.random() < 0.3:
            segs.append("AL1|1|DA|70618^Penicillin^RXNORM|MO|Hives|20200101")
        if rng.random() < 0.4:
            code, text = rng.choice(DIAGNOSES)
            segs.append(f"DG1|1||{code}^{text}^I10||{when}|A")
        return "\r".join(segs)
    segs = [f"MSH|^~\\&|LAB|BENCHHOSP|FHIRFLOW|BENCH|{when}||ORU^R01^ORU_R01|LAB{k:09d}|P|2.5.1",
            pid, pv1, f"ORC|RE|ORD{k:09d}^BENCHEHR|FIL{k:09d}^BENCHLAB||CM||||{when}|||{doctor}"]
    if rng.random() < 0.15:
        code, text = rng.choice(CODED)
        segs.append(f"OBR|1|ORD{k:09d}^BENCHEHR|FIL{k:09d}^BENCHLAB|{code}^{text}^LN|||{when}|||||||||{doctor}"
                    f"||||||{when}|||F")
        result = rng.choice(RESULTS)
        segs.append(f"OBX|1|CWE|{code}^{text}^LN||{result[0]}^{result[1]}^SCT||||||F|||{when}")
        return "\r".join(segs)
    panel = rng.choice(PANELS)
    segs.append(f"OBR|1|ORD{k:09d}^BENCHEHR|FIL{k:09d}^BENCHLAB|{panel[0]}^{panel[1]}^LN|||{when}|||||||||{doctor}"
                f"||||||{when}|||F")
    for i, (code, text, unit, low, high) in enumerate(rng.sample(NUMERIC, rng.randint(1, len(NUMERIC)))):
        value = round(rng.uniform(low * 0.7, high * 1.3), 1)
        flag = "H" if value > high else "L" if value < low else "N"
        segs.append(f"OBX|{i + 1}|NM|{code}^{text}^LN||{value}|{unit}^{unit}^UCUM|{low}-{high}|{flag}|||F|||{when}")
    if rng.random() < 0.2:
        segs.append(f"OBX|{len(segs) - 3}|ST|8251-1^Service comment^LN||SPECIMEN SLIGHTLY HEMOLYZED||||||F|||{when}")
    if rng.random() < 0.1:
        segs.append("NTE|1|L|Results verified by the laboratory director.")
    return "\r".join(segs)


def generate(path: Path, messages: int = 20_000, patients: int = 2_000, seed: int = 251) -> int:
    """Write a batch of ``messages`` messages to ``path``; returns the number written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = [_patient(m) for m in range(patients)]
    with open(path, "w", encoding="ascii", newline="") as fh:
        fh.write("FHS|^~\\&|BENCH|BENCHHOSP|FHIRFLOW|BENCH|20240101120000||bench.hl7|||F0001\r"
                 "BHS|^~\\&|BENCH|BENCHHOSP|FHIRFLOW|BENCH|20240101120000||||B0001\r")
        for k in range(messages):
            fh.write(_message(rng, k, pool) + "\r")
        fh.write(f"BTS|{messages}\rFTS|1\r")
    return messages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--messages", type=int, default=20_000)
    args = ap.parse_args()
    n = generate(args.out, args.messages)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {n} messages)")


if __name__ == "__main__":
    main()
