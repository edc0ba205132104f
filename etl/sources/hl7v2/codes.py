"""HL7 v2 code tables used by the mappers, as data, each citing its source.

Sources:
- HL7 v2 tables: https://terminology.hl7.org/ (CodeSystem-v2-XXXX) and HL7 v2.5.1 Ch. 2C.
- v2 → FHIR concept maps: HL7 Version 2 to FHIR IG, https://build.fhir.org/ig/HL7/v2-to-fhir/
"""

from __future__ import annotations

# HL7 Table 0001 Administrative Sex -> FHIR administrative-gender
# (ConceptMap table-hl7v2-0001-to-administrative-gender, v2-to-fhir IG).
ADMINISTRATIVE_SEX = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}

# HL7 Table 0004 Patient Class -> v3 ActCode encounter class
# (ConceptMap table-hl7v2-0004-to-v3-ActEncounterCode, v2-to-fhir IG).
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PATIENT_CLASS = {
    "E": ("EMER", "emergency"),
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "P": ("PRENC", "pre-admission"),
    "R": ("IMP", "inpatient encounter"),
    "B": ("IMP", "inpatient encounter"),
    "N": ("AMB", "ambulatory"),
}

# Encounter.status per ADT trigger event (v2-to-fhir IG, ADT message mappings, PV1 → Encounter).
ENCOUNTER_STATUS = {"A01": "in-progress", "A04": "in-progress", "A08": "in-progress", "A03": "finished"}

# HL7 Table 0123 Result Status (OBR-25) -> DiagnosticReport.status
# (ConceptMap table-hl7v2-0123-to-diagnostic-report-status, v2-to-fhir IG).
REPORT_STATUS = {
    "O": "registered", "I": "registered", "S": "registered", "A": "partial", "P": "preliminary",
    "C": "corrected", "R": "partial", "F": "final", "X": "cancelled", "Y": "unknown", "Z": "unknown",
}

# HL7 Table 0085 Observation Result Status (OBX-11) -> Observation.status
# (ConceptMap table-hl7v2-0085-to-observation-status, v2-to-fhir IG).
OBSERVATION_STATUS = {
    "C": "corrected", "D": "entered-in-error", "F": "final", "I": "registered", "N": "cancelled",
    "O": "registered", "P": "preliminary", "R": "preliminary", "S": "preliminary", "U": "final",
    "W": "entered-in-error", "X": "cancelled", "A": "amended",
}

# HL7 Table 0396 Coding System -> FHIR system URI (https://terminology.hl7.org/HL7v2-0396 and
# FHIR R4 "Using Codes", https://hl7.org/fhir/R4/terminologies-systems.html).
CODING_SYSTEM = {
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct",
    "I10": "http://hl7.org/fhir/sid/icd-10-cm",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "UCUM": "http://unitsofmeasure.org",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "C4": "http://www.ama-assn.org/go/cpt",
    "HL70078": "http://terminology.hl7.org/CodeSystem/v2-0078",
}

# HL7 Table 0078 Interpretation Codes (OBX-8) -> v3 ObservationInterpretation (same codes).
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
INTERPRETATION = {"L", "H", "LL", "HH", "N", "A", "AA", "<", ">", "S", "R", "I", "U", "D", "B", "W"}

# HL7 Table 0203 Identifier Type (CX-5) is a v2 code system of its own
# (https://terminology.hl7.org/CodeSystem-v2-0203.html). Only codes of the table are coded; senders'
# local values ("MRN", "ATHENA PAT") go to Identifier.type.text, since HAPI's $validate rejects an
# unknown code in this system.
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
IDENTIFIER_TYPES = frozenset({
    "AC", "ACSN", "AIN", "AM", "AMA", "AN", "ANC", "AND", "ANON", "ANT", "APRN", "ASID", "BA", "BC",
    "BCT", "BR", "BRN", "BSNR", "CAII", "CC", "CONM", "CY", "CZ", "DC", "DDS", "DEA", "DFN", "DI",
    "DL", "DN", "DO", "DP", "DPM", "DR", "DS", "DSG", "EI", "EN", "ESN", "FDR", "FDRFN", "FGN", "FI",
    "FILL", "GI", "GIN", "GL", "GN", "HC", "IND", "IRISTEM", "JHN", "LACSN", "LANR", "LI", "LN", "LR",
    "MA", "MB", "MC", "MCD", "MCN", "MCR", "MCT", "MD", "MI", "MR", "MRT", "MS", "NBSNR", "NCT", "NE",
    "NH", "NI", "NII", "NIIP", "NP", "NPI", "OBI", "OD", "PA", "PC", "PCN", "PE", "PEN", "PGN", "PHC",
    "PHE", "PHO", "PI", "PIN", "PLAC", "PN", "PNT", "PPIN", "PPN", "PRC", "PRN", "PT", "QA", "RI",
    "RN", "RPH", "RR", "RRI", "RRP", "SAMN", "SB", "SID", "SL", "SN", "SNBSN", "SNO", "SP", "SR",
    "SRX", "SS", "STN", "TAX", "TN", "TPR", "TREG", "TRL", "U", "UDI", "UPIN", "USID", "VN", "VP",
    "VS", "WC", "WCN", "WP", "XV", "XX",
})

# HL7 Table 0201 Telecommunication Use Code (XTN-2) -> ContactPoint.use
TELECOM_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "VHN": "home", "ASN": "work",
               "EMR": "home", "NET": None, "BPN": "work", "PRS": "mobile"}

# HL7 Table 0002 Marital Status -> v3 MaritalStatus (codes shared)
MARITAL_STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
MARITAL_STATUS = {"A", "D", "I", "L", "M", "C", "P", "T", "U", "S", "W"}

# Placeholder system for identifiers whose assigning authority has no URI: keeps the authority
# name visible without inventing an OID.
LOCAL_ID_SYSTEM = "urn:fhirflow:hl7v2:assigning-authority:"
