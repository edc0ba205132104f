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
# Cancels (A11 admit, A27 pending admit, A38 pre-admit) cancel the visit; A12/A13 (cancel transfer,
# discharge) put it back in progress; A21 leave of absence, A05/A14 pre-admit/pending are planned.
ENCOUNTER_STATUS = {
    "A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "in-progress", "A05": "planned",
    "A06": "in-progress", "A07": "in-progress", "A08": "in-progress", "A09": "in-progress", "A10": "arrived",
    "A11": "cancelled", "A12": "in-progress", "A13": "in-progress", "A14": "planned", "A15": "in-progress",
    "A16": "in-progress", "A17": "in-progress", "A21": "onleave", "A22": "in-progress", "A23": "entered-in-error",
    "A25": "in-progress", "A26": "in-progress", "A27": "cancelled", "A32": "in-progress", "A33": "in-progress",
    "A38": "cancelled", "A52": "in-progress", "A53": "onleave", "A54": "in-progress", "A55": "in-progress",
}

# ADT events that update what is known without changing the visit's state.
UPDATE_EVENTS = frozenset({"A08", "A28", "A31"})

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

# HL7 Table 0200 Name Type (XPN-7) -> HumanName.use (ConceptMap table-hl7v2-0200-to-name-use, v2-to-fhir IG).
NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "B": "official", "S": "anonymous",
            "T": "temp", "BAD": "old", "NOUSE": "old"}

# HL7 Table 0190 Address Type (XAD-7) -> Address.use (ConceptMap table-hl7v2-0190-to-address-use).
ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old", "M": "home", "P": "home",
               "BI": "billing"}

# HL7 Table 0202 Telecommunication Equipment Type (XTN-3) -> ContactPoint.system.
TELECOM_EQUIPMENT = {"PH": "phone", "CP": "phone", "FX": "fax", "BP": "pager", "Internet": "email",
                     "X.400": "email", "TDD": "other", "TTY": "other", "MD": "other"}

# US Core race/ethnicity extensions (https://hl7.org/fhir/us/core/STU6.1/StructureDefinition-us-core-race.html):
# PID-10 (HL7 table 0005) and PID-22 (table 0189) carry CDC Race & Ethnicity codes (2.16.840.1.113883.6.238)
# in v2.5+; older senders use the letters of the v2.3 user tables, mapped here to the same CDC codes
# (v2-to-fhir IG ConceptMap table-hl7v2-0005-to-... keeps the CDC codes; the letters follow the CDC
# PHIN VADS "Race & Ethnicity - CDC" value set descriptions).
CDC_RACE_SYSTEM = "urn:oid:2.16.840.1.113883.6.238"
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
OMB_RACE = {"1002-5": "American Indian or Alaska Native", "2028-9": "Asian",
            "2054-5": "Black or African American", "2076-8": "Native Hawaiian or Other Pacific Islander",
            "2106-3": "White"}
OMB_ETHNICITY = {"2135-2": "Hispanic or Latino", "2186-5": "Not Hispanic or Latino"}
RACE_LETTERS = {"W": "2106-3", "B": "2054-5", "A": "2028-9", "I": "1002-5", "P": "2076-8", "H": "2076-8"}
ETHNICITY_LETTERS = {"H": "2135-2", "N": "2186-5"}
# Other CDC race codes are "detailed" (the OMB categories above are the only ombCategory values).
OTHER_RACE = {"2131-1": "Other Race"}

# HL7 Table 0063 Relationship (NK1-3) -> v3 RoleCode (v2-to-fhir IG ConceptMap table-hl7v2-0063-to-v3-RoleCode).
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
RELATIONSHIP = {
    "SEL": "ONESELF", "SPO": "SPS", "DOM": "DOMPART", "CHD": "CHILD", "GCH": "GRNDCHILD", "NCH": "NCHILD",
    "SCH": "STPCHLD", "FCH": "CHLDFOST", "WRD": "WARD", "PAR": "PRN", "MTH": "MTH", "FTH": "FTH",
    "GRD": "GUARD", "GRP": "GRPRN", "EXF": "FAMMEMB", "SIB": "SIB", "BRO": "BRO", "SIS": "SIS", "FND": "FRND",
}  # others (EME, EMC, OTH...) have no RoleCode: kept as text

# HL7 Table 0116 Bed Status (PL-5) -> Location.operationalStatus (v2-0116, same codes; IG PL[Location]).
BED_STATUS = {c: c for c in ("C", "H", "O", "U", "K", "I")}

# HL7 Table 0074 Diagnostic Service Section ID (OBR-24) -> DiagnosticReport.category (v2-0074).
DIAGNOSTIC_SECTION = frozenset({
    "AU", "BG", "BLB", "CG", "CUS", "CTH", "CT", "CH", "CP", "EC", "EN", "HM", "ICU", "IMM", "LAB", "MB",
    "MCB", "MYC", "NMS", "NMR", "NRS", "OUS", "OT", "OSL", "PAR", "PAT", "PF", "PHR", "PHY", "PT", "RAD",
    "RX", "RUS", "RC", "RT", "SR", "SP", "TX", "VUS", "VR", "XRC"})

# HL7 Table 0038 Order Status (ORC-5) -> ServiceRequest/MedicationRequest.status
# (ConceptMap table-hl7v2-0038-to-request-status, v2-to-fhir IG).
ORDER_STATUS = {"A": "active", "CA": "revoked", "CM": "completed", "DC": "revoked", "ER": "entered-in-error",
                "HD": "on-hold", "IP": "active", "RP": "revoked", "SC": "active"}
# HL7 Table 0119 Order Control (ORC-1) when ORC-5 is empty (v2-to-fhir IG ORC[ServiceRequest] notes).
ORDER_CONTROL_STATUS = {"NW": "active", "CA": "revoked", "OC": "revoked", "DC": "revoked", "OD": "revoked",
                        "HD": "on-hold", "OH": "on-hold", "RL": "active", "XO": "active", "SC": "active",
                        "RE": "completed", "SN": "active", "CR": "revoked", "DE": "entered-in-error"}
MEDICATION_STATUS = {"active": "active", "revoked": "cancelled", "completed": "completed",
                     "entered-in-error": "entered-in-error", "on-hold": "on-hold"}

# HL7 Table 0322 Completion Status (RXA-20) -> Immunization.status / MedicationAdministration.status.
IMMUNIZATION_STATUS = {"CP": "completed", "PA": "completed", "RE": "not-done", "NA": "not-done"}
ADMINISTRATION_STATUS = {"CP": "completed", "PA": "stopped", "RE": "not-done", "NA": "not-done"}

# HL7 Table 0127 Allergen Type (AL1-2/IAM-2) -> AllergyIntolerance.category / type
# (ConceptMap table-hl7v2-0127-to-allergy-intolerance-category, v2-to-fhir IG).
ALLERGEN_CATEGORY = {"DA": "medication", "FA": "food", "EA": "environment", "MA": "medication",
                     "MC": "medication", "PA": "environment", "AA": "environment", "LA": "environment"}
ALLERGEN_TYPE = {"DA": "allergy", "FA": "allergy", "EA": "allergy", "MA": "allergy", "MC": "allergy",
                 "AA": "allergy", "LA": "allergy", "PA": "allergy", "DI": "intolerance", "FI": "intolerance",
                 "EI": "intolerance"}
# HL7 Table 0128 Allergy Severity (AL1-4) -> AllergyIntolerance.criticality / reaction.severity.
ALLERGY_CRITICALITY = {"SV": "high", "MO": "low", "MI": "low", "U": "unable-to-assess"}
ALLERGY_SEVERITY = {"SV": "severe", "MO": "moderate", "MI": "mild"}

# HL7 Table 0063 -> Coverage.relationship (http://terminology.hl7.org/CodeSystem/subscriber-relationship;
# ConceptMap table-hl7v2-0063-to-subscriber-relationship, v2-to-fhir IG) for IN1-17.
SUBSCRIBER_RELATIONSHIP = {"SEL": "self", "SPO": "spouse", "CHD": "child", "PAR": "parent", "DOM": "common",
                           "EME": "injured", "OTH": "other", "01": "spouse", "18": "self", "19": "child"}

# SCH-25 Filler Status Code (HL7 table 0278) -> Appointment.status (v2-to-fhir IG SCH[Appointment]).
APPOINTMENT_STATUS = {"PENDING": "pending", "WAITLIST": "waitlist", "BOOKED": "booked", "STARTED": "arrived",
                      "COMPLETE": "fulfilled", "CANCELLED": "cancelled", "DC": "cancelled", "DELETED": "entered-in-error",
                      "BLOCKED": "booked", "OVERBOOK": "booked", "NOSHOW": "noshow"}
# Appointment.status by SIU trigger event when SCH-25 is empty.
APPOINTMENT_EVENT = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled", "S16": "cancelled",
                     "S17": "entered-in-error", "S18": "booked", "S19": "booked", "S20": "cancelled",
                     "S21": "cancelled", "S22": "entered-in-error", "S23": "booked", "S24": "booked",
                     "S25": "booked", "S26": "noshow"}

# TXA-17 Document Completion Status (table 0271) -> DocumentReference.docStatus.
DOC_STATUS = {"AU": "final", "DI": "preliminary", "DO": "final", "IN": "preliminary", "IP": "preliminary",
              "LA": "final", "PA": "preliminary", "CA": "entered-in-error"}

# CVX (RXA-5) and MVX (RXA-17): https://www2.cdc.gov/vaccines/iis/iisstandards/ (FHIR systems per THO).
MVX_SYSTEM = "http://hl7.org/fhir/sid/mvx"

# Codes of small v2 tables (https://terminology.hl7.org/CodeSystem-v2-NNNN.html): a value outside the
# table goes to CodeableConcept.text (HAPI's $validate rejects an unknown code in these systems).
V2_TABLES: dict[str, frozenset[str]] = {
    "0007": frozenset({"A", "C", "E", "L", "N", "R", "U"}),  # admission type (PV1-4)
    "0023": frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9"}),  # admit source (PV1-14)
    "0069": frozenset({"CAR", "MED", "PUL", "SUR", "URO"}),  # hospital service (PV1-10)
    "0092": frozenset({"R"}),  # re-admission indicator (PV1-13)
    "0112": frozenset({"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20", "30", "40", "41", "42",
                       "43", "50", "51", "61", "62", "63", "64", "65", "71", "72"}),  # discharge disposition
    # provider role (ROL-3, PRT-4)
    "0443": frozenset({"AD", "AI", "AP", "AT", "CP", "DP", "EP", "OP", "PH", "PI", "PP", "RO", "RP", "RT", "VP"}),
    "0131": frozenset({"BP", "C", "CP", "E", "EP", "F", "I", "N", "O", "PR", "S", "U"}),  # contact role (NK1-7)
}
