"""Code tables of the C-CDA source: data, each citing where it comes from.

- OIDs → FHIR system URIs: FHIR R4 "Using Codes in Resources" (http://hl7.org/fhir/R4/terminologies-systems.html)
  and the HL7 Terminology (THO) NamingSystems (https://terminology.hl7.org/codesystems.html); an OID
  not listed becomes ``urn:oid:<oid>``, which FHIR allows (R4 §4.3.1.2).
- templateIds: C-CDA R2.1 (HL7 CDAR2_IG_CCDA_CLINNOTES_R1_DSTU2.1, templates 2.16.840.1.113883.10.20.22.*)
  and C-CDA R1.1 (same roots without ``extension``); document types as in C-CDA on FHIR
  (https://hl7.org/fhir/us/ccda/).
- Status and value-set maps: C-CDA on FHIR mapping guidance (https://build.fhir.org/ig/HL7/ccda-on-fhir/mappingGuidance.html).
"""

from __future__ import annotations

V3 = "http://terminology.hl7.org/CodeSystem/"

# OID -> FHIR system URI.
CODE_SYSTEMS: dict[str, str] = {
    "2.16.840.1.113883.6.1": "http://loinc.org",
    "2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
    "2.16.840.1.113883.6.3": "http://hl7.org/fhir/sid/icd-10",
    "2.16.840.1.113883.6.103": "http://hl7.org/fhir/sid/icd-9-cm",
    "2.16.840.1.113883.6.104": "http://hl7.org/fhir/sid/icd-9-cm",
    "2.16.840.1.113883.6.4": "http://www.cms.gov/Medicare/Coding/ICD10",
    "2.16.840.1.113883.12.292": "http://hl7.org/fhir/sid/cvx",
    "2.16.840.1.113883.6.59": "http://hl7.org/fhir/sid/cvx",
    "2.16.840.1.113883.6.69": "http://hl7.org/fhir/sid/ndc",
    "2.16.840.1.113883.6.8": "http://unitsofmeasure.org",
    "2.16.840.1.113883.6.12": "http://www.ama-assn.org/go/cpt",
    "2.16.840.1.113883.6.285": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "2.16.840.1.113883.6.13": "http://ada.org/cdt",
    "2.16.840.1.113883.6.101": "http://nucc.org/provider-taxonomy",
    "2.16.840.1.113883.6.238": "urn:oid:2.16.840.1.113883.6.238",  # CDC Race & Ethnicity (US Core uses the OID)
    "2.16.840.1.113883.6.121": "urn:ietf:bcp:47",
    "2.16.840.1.113883.4.9": "http://fdasis.nlm.nih.gov",
    "2.16.840.1.113883.3.26.1.1": "http://ncimeta.nci.nih.gov",
    "2.16.840.1.113883.3.26.1.5": "http://hl7.org/fhir/ndfrt",
    "2.16.840.1.113883.6.259": "https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html",
    "2.16.840.1.113883.3.221.5": "https://nahdo.org/sopt",
    "2.16.840.1.113883.6.301.3": "https://www.nubc.org/CodeSystem/RevenueCodes",
    "1.2.840.10008.2.16.4": "http://dicom.nema.org/resources/ontology/DCM",  # DICOM Controlled Terminology
    # HL7 v3 code systems (2.16.840.1.113883.5.x) -> THO
    "2.16.840.1.113883.5.1": V3 + "v3-AdministrativeGender",
    "2.16.840.1.113883.5.2": V3 + "v3-MaritalStatus",
    "2.16.840.1.113883.5.4": V3 + "v3-ActCode",
    "2.16.840.1.113883.5.6": V3 + "v3-ActClass",
    "2.16.840.1.113883.5.7": V3 + "v3-ActPriority",
    "2.16.840.1.113883.5.8": V3 + "v3-ActReason",
    "2.16.840.1.113883.5.14": V3 + "v3-ActStatus",
    "2.16.840.1.113883.5.25": V3 + "v3-Confidentiality",
    "2.16.840.1.113883.5.45": V3 + "v3-EntityNameUse",
    "2.16.840.1.113883.5.60": V3 + "v3-LanguageAbilityMode",
    "2.16.840.1.113883.5.61": V3 + "v3-LanguageAbilityProficiency",
    "2.16.840.1.113883.5.83": V3 + "v3-ObservationInterpretation",
    "2.16.840.1.113883.5.88": V3 + "v3-ParticipationFunction",
    "2.16.840.1.113883.5.89": V3 + "v3-ParticipationSignature",
    "2.16.840.1.113883.5.90": V3 + "v3-ParticipationType",
    "2.16.840.1.113883.5.110": V3 + "v3-RoleClass",
    "2.16.840.1.113883.5.111": V3 + "v3-RoleCode",
    "2.16.840.1.113883.5.112": V3 + "v3-RouteOfAdministration",
    "2.16.840.1.113883.5.1001": V3 + "v3-ActMood",
    "2.16.840.1.113883.5.1008": V3 + "v3-NullFlavor",
    "2.16.840.1.113883.5.1063": V3 + "v3-ObservationValue",
    "2.16.840.1.113883.5.1076": V3 + "v3-ReligiousAffiliation",
    "2.16.840.1.113883.5.1119": V3 + "v3-AddressUse",
    "2.16.840.1.113883.5.139": V3 + "v3-TimingEvent",
    "2.16.840.1.113883.5.143": V3 + "v3-PurposeOfUse",
    "2.16.840.1.113883.5.85": V3 + "v3-orderableDrugForm",
}

# Identifier assigning-authority OIDs that have a FHIR NamingSystem URI.
IDENTIFIER_SYSTEMS: dict[str, str] = {
    "2.16.840.1.113883.4.6": "http://hl7.org/fhir/sid/us-npi",
    "2.16.840.1.113883.4.1": "http://hl7.org/fhir/sid/us-ssn",
    "2.16.840.1.113883.4.572": "http://hl7.org/fhir/sid/us-medicare",
}

# Document templateId (ClinicalDocument/templateId/@root) -> document type name. Source: the document-level
# templates of C-CDA R2.1 Vol. 2 §1 (2.16.840.1.113883.10.20.22.1.*; R1.1 uses the same roots without
# ``extension``), plus the HL7 CCD R1 and HITSP C32 roots older CCDs still carry. Only the *name* comes
# from here: Composition.type is the document's own ``code`` (C-CDA on FHIR: ClinicalDocument.code ->
# Composition.type), because most templates bind it to a value set rather than fix one LOINC code; when
# that code is null, the name becomes Composition.type.text next to the data-absent-reason coding.
DOCUMENT_TYPES: dict[str, str] = {
    "2.16.840.1.113883.10.20.22.1.2": "CCD",
    "2.16.840.1.113883.10.20.1": "CCD",  # HL7 CCD R1 (C-CDA R1.1 era)
    "2.16.840.1.113883.3.88.11.32.1": "CCD",  # HITSP C32
    "2.16.840.1.113883.10.20.22.1.8": "Discharge Summary",
    "2.16.840.1.113883.10.20.22.1.14": "Referral Note",
    "2.16.840.1.113883.10.20.22.1.9": "Progress Note",
    "2.16.840.1.113883.10.20.22.1.3": "History and Physical",
    "2.16.840.1.113883.10.20.22.1.4": "Consultation Note",
    "2.16.840.1.113883.10.20.22.1.7": "Operative Note",
    "2.16.840.1.113883.10.20.22.1.6": "Procedure Note",
    "2.16.840.1.113883.10.20.22.1.13": "Transfer Summary",
    "2.16.840.1.113883.10.20.22.1.15": "Care Plan",
    "2.16.840.1.113883.10.20.22.1.5": "Diagnostic Imaging Report",
    "2.16.840.1.113883.10.20.22.1.10": "Unstructured Document",
    "2.16.840.1.113883.10.20.22.1.1": "US Realm Header",
}
# Most specific first when a document declares several templates.
DOCUMENT_TYPE_PRIORITY = [t for t in DOCUMENT_TYPES if DOCUMENT_TYPES[t] != "US Realm Header"]

# Section kinds: templateId root (R2.1 "entries required" .1 and "entries optional" variants, R1.1 CCD)
# and the section LOINC code, -> kind used to dispatch entries whose own template we do not know.
SECTION_TEMPLATES: dict[str, str] = {
    "2.16.840.1.113883.10.20.22.2.6": "allergies", "2.16.840.1.113883.10.20.22.2.6.1": "allergies",
    "2.16.840.1.113883.10.20.22.2.1": "medications", "2.16.840.1.113883.10.20.22.2.1.1": "medications",
    "2.16.840.1.113883.10.20.22.2.11": "medications", "2.16.840.1.113883.10.20.22.2.11.1": "medications",
    "2.16.840.1.113883.10.20.22.2.38": "medications-administered",
    "2.16.840.1.113883.10.20.22.2.25": "medications-administered",  # Anesthesia section
    "2.16.840.1.113883.10.20.22.2.5": "problems", "2.16.840.1.113883.10.20.22.2.5.1": "problems",
    "2.16.840.1.113883.10.20.22.2.24": "problems", "2.16.840.1.113883.10.20.22.2.20": "problems",
    "2.16.840.1.113883.10.20.22.2.58": "health-concerns",
    "2.16.840.1.113883.10.20.22.2.7": "procedures", "2.16.840.1.113883.10.20.22.2.7.1": "procedures",
    "2.16.840.1.113883.10.20.22.2.3": "results", "2.16.840.1.113883.10.20.22.2.3.1": "results",
    "2.16.840.1.113883.10.20.22.2.4": "vital-signs", "2.16.840.1.113883.10.20.22.2.4.1": "vital-signs",
    "2.16.840.1.113883.10.20.22.2.2": "immunizations", "2.16.840.1.113883.10.20.22.2.2.1": "immunizations",
    "2.16.840.1.113883.10.20.22.2.17": "social-history",
    "2.16.840.1.113883.10.20.22.2.10": "plan", "2.16.840.1.113883.10.20.22.2.60": "goals",
    "2.16.840.1.113883.10.20.22.2.22": "encounters", "2.16.840.1.113883.10.20.22.2.22.1": "encounters",
    "2.16.840.1.113883.10.20.22.2.14": "functional-status", "2.16.840.1.113883.10.20.22.2.56": "mental-status",
    "2.16.840.1.113883.10.20.22.2.23": "medical-equipment", "2.16.840.1.113883.10.20.22.2.18": "payers",
    "2.16.840.1.113883.10.20.22.2.15": "family-history", "2.16.840.1.113883.10.20.22.2.65": "notes",
    "2.16.840.1.113883.10.20.22.2.21": "advance-directives", "2.16.840.1.113883.10.20.22.2.21.1": "advance-directives",
    "2.16.840.1.113883.10.20.1.2": "allergies", "2.16.840.1.113883.10.20.1.8": "medications",
    "2.16.840.1.113883.10.20.1.11": "problems", "2.16.840.1.113883.10.20.1.12": "procedures",
    "2.16.840.1.113883.10.20.1.14": "results", "2.16.840.1.113883.10.20.1.16": "vital-signs",
    "2.16.840.1.113883.10.20.1.6": "immunizations", "2.16.840.1.113883.10.20.1.15": "social-history",
    "2.16.840.1.113883.10.20.1.10": "plan", "2.16.840.1.113883.10.20.1.3": "encounters",
    "2.16.840.1.113883.10.20.1.9": "payers", "2.16.840.1.113883.10.20.1.7": "medical-equipment",
    "2.16.840.1.113883.10.20.22.2.57": "nutrition", "2.16.840.1.113883.10.20.22.2.29": "indications",
    "2.16.840.1.113883.10.20.22.2.29.1": "indications", "1.3.6.1.4.1.19376.1.5.3.1.3.1": "referral",
    "2.16.840.1.113883.10.20.22.2.61": "outcomes", "2.16.840.1.113883.10.20.21.2.3": "interventions",
    "2.16.840.1.113883.10.20.22.2.45": "instructions",
    # Diagnostic Imaging Report (C-CDA R2.1 Vol. 2 §2: DICOM Object Catalog, Findings (DIR)); its other
    # sections (History, Impressions, ...) have no template of their own, only a DCM code (below).
    "2.16.840.1.113883.10.20.6.1.1": "imaging-catalog", "2.16.840.1.113883.10.20.6.1.2": "imaging",
}
SECTION_CODES: dict[str, str] = {
    "48765-2": "allergies", "10160-0": "medications", "10183-2": "medications", "29549-3": "medications-administered",
    "11450-4": "problems", "75310-3": "health-concerns", "11535-2": "problems", "47519-4": "procedures",
    "30954-2": "results", "8716-3": "vital-signs", "11369-6": "immunizations", "29762-2": "social-history",
    "18776-5": "plan", "61146-7": "goals", "46240-8": "encounters", "47420-5": "functional-status",
    "10190-7": "mental-status", "46264-8": "medical-equipment", "48768-6": "payers", "10157-6": "family-history", "42348-3": "advance-directives",
    "61144-2": "nutrition", "59768-2": "indications", "42349-1": "referral", "11383-7": "outcomes",
    "62387-6": "interventions", "69730-0": "instructions",
    # DICOM (DCM, 1.2.840.10008.2.16.4) section codes of a Diagnostic Imaging Report: DICOM Object
    # Catalog 121181; History 121060, Request 121062, Current/Prior Procedure Descriptions 121064/121066,
    # Previous Findings 121068, Findings 121070, Impressions 121072, Recommendations 121074,
    # Conclusions 121076, Addendum 121078.
    "121181": "imaging-catalog", "121060": "imaging", "121062": "imaging", "121064": "imaging",
    "121066": "imaging", "121068": "imaging", "121070": "imaging", "121072": "imaging", "121074": "imaging",
    "121076": "imaging", "121078": "imaging",
}

# Narrative-free recognition of entry templates -> handler name (see to_fhir_entries.ENTRY_HANDLERS).
ENTRY_TEMPLATES: dict[str, str] = {
    "2.16.840.1.113883.10.20.22.4.30": "allergy-concern", "2.16.840.1.113883.10.20.22.4.7": "allergy",
    "2.16.840.1.113883.10.20.22.4.3": "problem-concern", "2.16.840.1.113883.10.20.22.4.4": "problem",
    "2.16.840.1.113883.10.20.22.4.132": "health-concern", "2.16.840.1.113883.10.20.22.4.33": "problem-concern",
    "2.16.840.1.113883.10.20.22.4.34": "problem-concern", "2.16.840.1.113883.10.20.22.4.80": "problem-concern",
    # Preoperative (.4.65) and Postoperative (.4.51) Diagnosis acts wrap Problem Observations.
    "2.16.840.1.113883.10.20.22.4.65": "problem-concern", "2.16.840.1.113883.10.20.22.4.51": "problem-concern",
    "2.16.840.1.113883.10.20.22.4.16": "medication", "2.16.840.1.113883.10.20.22.4.42": "planned-medication",
    "2.16.840.1.113883.10.20.22.4.52": "immunization",
    "2.16.840.1.113883.10.20.22.4.1": "result-organizer", "2.16.840.1.113883.10.20.22.4.2": "result",
    "2.16.840.1.113883.10.20.22.4.26": "vital-organizer", "2.16.840.1.113883.10.20.22.4.27": "vital",
    "2.16.840.1.113883.10.20.22.4.14": "procedure", "2.16.840.1.113883.10.20.22.4.13": "procedure",
    "2.16.840.1.113883.10.20.22.4.12": "procedure",
    "2.16.840.1.113883.10.20.22.4.49": "encounter",
    "2.16.840.1.113883.10.20.22.4.78": "social", "2.16.840.1.113883.10.20.22.4.85": "social",
    "2.16.840.1.113883.10.20.22.4.38": "social", "2.16.840.1.113883.10.20.22.4.200": "social",
    "2.16.840.1.113883.10.20.22.4.39": "planned", "2.16.840.1.113883.10.20.22.4.40": "planned",
    "2.16.840.1.113883.10.20.22.4.41": "planned", "2.16.840.1.113883.10.20.22.4.44": "planned",
    "2.16.840.1.113883.10.20.22.4.43": "planned",
    "2.16.840.1.113883.10.20.22.4.121": "goal",
    "2.16.840.1.113883.10.20.22.4.66": "status-organizer", "2.16.840.1.113883.10.20.22.4.75": "status-organizer",
    "2.16.840.1.113883.10.20.22.4.67": "status", "2.16.840.1.113883.10.20.22.4.74": "status",
    "2.16.840.1.113883.10.20.22.4.68": "status", "2.16.840.1.113883.10.20.22.4.73": "status",
    "2.16.840.1.113883.10.20.22.4.50": "supply", "2.16.840.1.113883.10.20.22.4.135": "device-organizer",
    "2.16.840.1.113883.10.20.22.4.60": "coverage-act",
    "2.16.840.1.113883.10.20.22.4.202": "note",
    "2.16.840.1.113883.10.20.22.4.45": "family-history",
    "2.16.840.1.113883.10.20.22.4.48": "advance-directive",
    "2.16.840.1.113883.10.20.22.4.108": "advance-directive-organizer",
    "2.16.840.1.113883.10.20.22.4.35": "discharge-medication", "2.16.840.1.113883.10.20.22.4.36": "discharge-medication",
    # Nutritional Status Observation (.4.124) with its Nutrition Assessments (.4.138): Observations,
    # as FHIR-Converter writes them (C-CDA on FHIR maps no nutrition template).
    "2.16.840.1.113883.10.20.22.4.124": "nutrition", "2.16.840.1.113883.10.20.22.4.138": "nutrition",
    # Indication (.4.19), Outcome Observation (.4.144), Wound Characteristic (.4.114): Observations.
    "2.16.840.1.113883.10.20.22.4.19": "finding", "2.16.840.1.113883.10.20.22.4.144": "finding",
    "2.16.840.1.113883.10.20.22.4.114": "finding",
    # Patient Referral Act (.4.140) and Planned Intervention Act (.4.146): ServiceRequest;
    # Intervention Act (.4.131): Procedure.
    "2.16.840.1.113883.10.20.22.4.140": "planned", "2.16.840.1.113883.10.20.22.4.146": "planned",
    "2.16.840.1.113883.10.20.22.4.131": "procedure",
    # Diagnostic Imaging Report findings: Text Observation, Code Observations, Quantity Measurement
    # Observation (2.16.840.1.113883.10.20.6.2.12/.13/.14) → Observation, category imaging.
    "2.16.840.1.113883.10.20.6.2.12": "finding", "2.16.840.1.113883.10.20.6.2.13": "finding",
    "2.16.840.1.113883.10.20.6.2.14": "finding",
}
# Entry templates deliberately left unconverted, and why (the warning says it): no FHIR resource
# carries them without inventing one, and their content stays in the section narrative.
UNMAPPED_ENTRIES: dict[str, str] = {
    "2.16.840.1.113883.10.20.22.4.20": "Instruction (.4.20) is patient-facing text; C-CDA on FHIR maps "
                                       "it to no resource",
    "2.16.840.1.113883.10.20.22.4.122": "Entry Reference (.4.122) points at an entry of another section, "
                                        "converted there",
    "2.16.840.1.113883.10.20.6.2.6": "Study Act (2.16.840.1.113883.10.20.6.2.6) lists DICOM UIDs of the "
                                     "images; the images' own metadata (the DICOM source) makes the ImagingStudy",
    "2.16.840.1.113883.10.20.6.2.8": "SOP Instance Observation (2.16.840.1.113883.10.20.6.2.8) is a DICOM "
                                     "image reference, not a finding",
    "2.16.840.1.113883.10.20.6.2.5": "Procedure Context (2.16.840.1.113883.10.20.6.2.5) restates the "
                                     "header's service event",
    "2.16.840.1.113883.10.20.6.2.4": "Fetus Subject Context (2.16.840.1.113883.10.20.6.2.4) has no "
                                     "FHIR subject of its own",
}
IMAGING_FINDINGS = frozenset({"2.16.840.1.113883.10.20.6.2.12", "2.16.840.1.113883.10.20.6.2.13",
                              "2.16.840.1.113883.10.20.6.2.14"})
NUTRITION_ASSESSMENT = "2.16.840.1.113883.10.20.22.4.138"
# Fallback when an entry's template is unknown: (section kind, clinical statement tag) -> handler.
SECTION_FALLBACK: dict[tuple[str, str], str] = {
    ("allergies", "act"): "allergy-concern", ("allergies", "observation"): "allergy",
    ("problems", "act"): "problem-concern", ("problems", "observation"): "problem",
    ("health-concerns", "act"): "health-concern", ("health-concerns", "observation"): "problem",
    ("medications", "substanceAdministration"): "medication",
    ("medications-administered", "substanceAdministration"): "medication",
    ("immunizations", "substanceAdministration"): "immunization",
    ("results", "organizer"): "result-organizer", ("results", "observation"): "result",
    ("vital-signs", "organizer"): "vital-organizer", ("vital-signs", "observation"): "vital",
    ("procedures", "procedure"): "procedure", ("procedures", "act"): "procedure",
    ("procedures", "observation"): "procedure", ("encounters", "encounter"): "encounter",
    ("social-history", "observation"): "social", ("goals", "observation"): "goal",
    ("plan", "act"): "planned", ("plan", "procedure"): "planned", ("plan", "observation"): "planned",
    ("plan", "encounter"): "planned", ("plan", "supply"): "planned",
    ("plan", "substanceAdministration"): "planned-medication",
    ("functional-status", "observation"): "status", ("functional-status", "organizer"): "status-organizer",
    ("mental-status", "observation"): "status", ("mental-status", "organizer"): "status-organizer",
    ("medical-equipment", "supply"): "supply", ("medical-equipment", "organizer"): "device-organizer",
    ("medical-equipment", "procedure"): "procedure",
    ("payers", "act"): "coverage-act", ("family-history", "organizer"): "family-history",
    ("advance-directives", "observation"): "advance-directive",
    ("nutrition", "observation"): "nutrition", ("indications", "observation"): "finding",
    ("outcomes", "observation"): "finding", ("referral", "act"): "planned",
    ("interventions", "act"): "planned", ("imaging", "observation"): "finding",
}

# Sub-templates read by the handlers.
ALLERGY_STATUS = "2.16.840.1.113883.10.20.22.4.28"
REACTION = "2.16.840.1.113883.10.20.22.4.9"
SEVERITY = "2.16.840.1.113883.10.20.22.4.8"
PROBLEM_STATUS = "2.16.840.1.113883.10.20.22.4.6"
IMMUNIZATION_REFUSAL = "2.16.840.1.113883.10.20.22.4.53"
POLICY_ACTIVITY = "2.16.840.1.113883.10.20.22.4.61"
FAMILY_HISTORY_OBSERVATION = "2.16.840.1.113883.10.20.22.4.46"
PRODUCT_INSTANCE = "2.16.840.1.113883.10.20.22.4.37"
# Diagnosis acts whose Conditions are encounter diagnoses (C-CDA R2.1 templates: Hospital Discharge /
# Admission Diagnosis, Encounter Diagnosis, Postoperative / Preoperative Diagnosis).
ENCOUNTER_DIAGNOSIS_ACTS = frozenset({
    "2.16.840.1.113883.10.20.22.4.33", "2.16.840.1.113883.10.20.22.4.34", "2.16.840.1.113883.10.20.22.4.80",
    "2.16.840.1.113883.10.20.22.4.51", "2.16.840.1.113883.10.20.22.4.65"})
# Observations that can sit under an Allergy Concern Act but are not allergies (C-CDA R2.1: Allergy
# Status .4.28, Reaction .4.9, Severity .4.8, Priority Preference .4.143, Problem Status .4.6).
ALLERGY_CONCERN_PARTS = frozenset({
    "2.16.840.1.113883.10.20.22.4.28", "2.16.840.1.113883.10.20.22.4.9", "2.16.840.1.113883.10.20.22.4.8",
    "2.16.840.1.113883.10.20.22.4.143", "2.16.840.1.113883.10.20.22.4.6"})
MEDICATION_SUPPLY_ORDER = "2.16.840.1.113883.10.20.22.4.17"
MEDICATION_DISPENSE = "2.16.840.1.113883.10.20.22.4.18"

# SNOMED CT clinical status values of the Allergy Status / Problem Status observations -> FHIR.
CLINICAL_STATUS: dict[str, str] = {
    "55561003": "active", "73425007": "inactive", "413322009": "resolved", "277022003": "remission",
    "246455001": "recurrence",
}
# Allergy Intolerance Observation value (SNOMED, "Allergy and Intolerance Type") -> (type, category).
ALLERGY_TYPE: dict[str, tuple[str, str | None]] = {
    "419199007": ("allergy", None), "416098002": ("allergy", "medication"), "414285001": ("allergy", "food"),
    "232347008": ("allergy", "environment"), "59037007": ("intolerance", "medication"),
    "235719002": ("intolerance", "food"), "420134006": ("allergy", None), "418038007": ("allergy", "environment"),
    "419511003": ("allergy", "medication"), "418471000": ("allergy", "food"), "418471000000": ("allergy", "food"),
}
SEVERITY_CODES: dict[str, str] = {"24484000": "severe", "6736007": "moderate", "255604002": "mild",
                                  "371923003": "mild", "371924009": "moderate", "399166001": "severe"}

# CDA statusCode (ActStatus) -> FHIR status, per resource.
MED_STATEMENT_STATUS = {"active": "active", "completed": "completed", "aborted": "stopped",
                        "suspended": "on-hold", "cancelled": "not-taken", "held": "on-hold",
                        "new": "intended", "nullified": "entered-in-error"}
MED_REQUEST_STATUS = {"active": "active", "completed": "completed", "aborted": "stopped",
                      "suspended": "on-hold", "cancelled": "cancelled", "held": "on-hold",
                      "new": "draft", "nullified": "entered-in-error"}
# ActStatus of a Medication Dispense -> MedicationDispense.status (http://hl7.org/fhir/R4/valueset-medicationdispense-status.html).
MED_DISPENSE_STATUS = {"completed": "completed", "active": "in-progress", "aborted": "stopped",
                       "cancelled": "cancelled", "held": "on-hold", "suspended": "on-hold", "new": "preparation",
                       "nullified": "entered-in-error"}
PROCEDURE_STATUS = {"completed": "completed", "active": "in-progress", "aborted": "stopped",
                    "cancelled": "not-done", "new": "preparation", "held": "on-hold", "suspended": "on-hold",
                    "nullified": "entered-in-error"}
OBSERVATION_STATUS = {"completed": "final", "active": "preliminary", "aborted": "cancelled",
                      "cancelled": "cancelled", "nullified": "entered-in-error"}
REQUEST_STATUS = {"active": "active", "new": "draft", "completed": "completed", "held": "on-hold",
                  "suspended": "on-hold", "aborted": "revoked", "cancelled": "revoked",
                  "nullified": "entered-in-error"}
ENCOUNTER_STATUS = {"completed": "finished", "active": "in-progress", "new": "planned",
                    "aborted": "cancelled", "cancelled": "cancelled", "nullified": "entered-in-error"}
GOAL_STATUS = {"active": "active", "completed": "completed", "cancelled": "cancelled", "aborted": "cancelled",
               "suspended": "on-hold", "held": "on-hold", "new": "proposed"}
# moodCode of a planned activity -> ServiceRequest/MedicationRequest.intent
REQUEST_INTENT = {"INT": "plan", "RQO": "order", "PRP": "proposal", "ARQ": "order", "PRMS": "directive",
                  "APT": "plan"}

GENDER = {"M": "male", "F": "female", "UN": "other", "U": "unknown"}
TELECOM_USE = {"HP": "home", "H": "home", "HV": "home", "WP": "work", "DIR": "work", "PUB": "work",
               "MC": "mobile", "TMP": "temp", "BAD": "old", "EC": "home"}
ADDRESS_USE = {"HP": "home", "H": "home", "HV": "home", "WP": "work", "DIR": "work", "PUB": "work",
               "TMP": "temp", "BAD": "old", "PHYS": "home", "PST": "home"}
NAME_USE = {"L": "official", "C": "official", "P": "nickname", "A": "anonymous", "ASGN": "usual",
            "OR": "official", "SRCH": "usual"}
TELECOM_SCHEMES = {"tel": "phone", "fax": "fax", "mailto": "email", "http": "url", "https": "url"}

# US Core race/ethnicity: the OMB minimum categories (CDC Race & Ethnicity code system 2.16.840.1.113883.6.238).
OMB_RACE = {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3"}
OMB_ETHNICITY = {"2135-2", "2186-5"}
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# Displays of http://terminology.hl7.org/CodeSystem/data-absent-reason (THO, the codes null_reason uses).
DATA_ABSENT_DISPLAY: dict[str, str] = {
    "unknown": "Unknown", "asked-unknown": "Asked But Unknown", "temp-unknown": "Temporarily Unknown",
    "not-asked": "Not Asked", "masked": "Masked", "not-applicable": "Not Applicable",
    "unsupported": "Unsupported", "negative-infinity": "Negative Infinity (NINF)",
    "positive-infinity": "Positive Infinity (PINF)",
}
CDC_RACE_SYSTEM = "urn:oid:2.16.840.1.113883.6.238"

# LOINC codes of the vital signs US Core constrains (all UCUM); the panel itself is 85353-1.
VITAL_SIGNS_PANEL = "85353-1"

# Observation categories (http://terminology.hl7.org/CodeSystem/observation-category).
OBS_CATEGORY = V3 + "observation-category"
