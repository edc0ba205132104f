"""X12 code lists as FHIR code systems: data, each table citing its source.

Code *values* are the external code lists the 5010 TR3s reference; the FHIR system URIs are those
of HL7 Terminology (THO), CARIN Blue Button (C4BB) and the US Core / Da Vinci IGs.
"""

from __future__ import annotations

# --- code system URIs ---------------------------------------------------------------------------
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"  # https://terminology.hl7.org/CodeSystem-claim-type.html
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"  # https://terminology.hl7.org/CodeSystem-icd10PCS.html
ICD9CM = "http://terminology.hl7.org/CodeSystem/icd9cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # C4BB / THO HCPCS Level II
CDT = "http://www.ada.org/cdt"
NDC = "http://hl7.org/fhir/sid/ndc"
NPI = "http://hl7.org/fhir/sid/us-npi"
EIN = "urn:oid:2.16.840.1.113883.4.4"  # US IRS Employer Identification Number (THO NamingSystem)
NUBC_REVENUE = "https://www.nubc.org/CodeSystem/RevenueCodes"  # C4BB: https://hl7.org/fhir/us/carin-bb/STU2/
NUBC_TYPE_OF_BILL = "https://www.nubc.org/CodeSystem/TypeOfBill"
NUBC_PRIORITY = "https://www.nubc.org/CodeSystem/PriorityTypeOfAdmitOrVisit"
NUBC_POINT_OF_ORIGIN = "https://www.nubc.org/CodeSystem/PointOfOrigin"
NUBC_PATIENT_STATUS = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
CMS_POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"  # https://x12.org/codes/claim-adjustment-reason-codes
RARC = "https://x12.org/codes/remittance-advice-remark-codes"
CAS_GROUP = "https://x12.org/codes/claim-adjustment-group-codes"  # X12 element 1033 (CAS01)
CLAIM_FREQUENCY = "https://x12.org/codes/claim-frequency-codes"  # X12 external code list 235 / NUBC FL04 3rd digit
CLAIM_STATUS_835 = "https://x12.org/codes/claim-status-codes-835"  # CLP02, X12 element 1029
POA = "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/HospitalAcqCond/Coding"  # C4BB PresentOnAdmission
# Dental (837D): CARIN BB Oral (C4BB-ExplanationOfBenefit-Oral) binds item.bodySite to the OralBodySite value
# set = ADA Universal tooth numbers + ADA areas of the oral cavity, and item.subSite to ADA tooth surfaces
# (https://hl7.org/fhir/us/carin-bb/ValueSet-OralBodySite.html, ValueSet-C4BBSurfaceCodes.html). NOT the R4
# example systems ex-tooth / FDI-surface: those hold FDI (ISO 3950) numbers, and X12 sends ADA Universal ones.
TOOTH = "http://terminology.hl7.org/CodeSystem/ADAUniversalToothDesignationSystem"  # TOO02 / DN201 (TOO01 = JP)
SURFACE = "http://terminology.hl7.org/CodeSystem/ADAToothSurfaceCodes"  # TOO03 (X12 element 1369)
ORAL_CAVITY = "http://terminology.hl7.org/CodeSystem/ADAAreaOralCavitySystem"  # SV304 (X12 element 1361)
C4BB_SUPPORTING_INFO = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType"
# supportingInfo.category "info": C4BBSupportingInfoType has no such code; THO claiminformationcategory does
# (https://terminology.hl7.org/CodeSystem-claiminformationcategory.html, R4's example binding)
CLAIM_INFO_CATEGORY = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
C4BB_ADJUDICATION = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"  # https://terminology.hl7.org/CodeSystem-adjudication.html
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"  # principal, admitting, ... (R4 core)
# CARIN codes that complement ex-diagnosistype: other, secondary, externalcauseofinjury, patientreasonforvisit
# https://hl7.org/fhir/us/carin-bb/CodeSystem-C4BBClaimDiagnosisType.html
C4BB_DIAGNOSIS_TYPE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimDiagnosisType"
C4BB_PROCEDURE_TYPE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimProcedureType"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
PAYEE_TYPE = "http://terminology.hl7.org/CodeSystem/payeetype"
RELATED_CLAIM = "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"  # EOB.payment.type: complete | partial
# PaymentReconciliation.detail.type (R4 binding PaymentTypeCodes): payment | adjustment | advance
# https://terminology.hl7.org/CodeSystem-payment-type.html
PAYMENT_DETAIL_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
PLB_REASON = "https://x12.org/codes/provider-adjustment-reason-codes"  # X12 element 426 (PLB03-1)
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V2_ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
INSURANCE_TYPE = "https://x12.org/codes/insurance-line-codes"  # HD03, X12 element 1205
CLAIM_FILING = "https://x12.org/codes/claim-filing-indicator-codes"  # SBR09, X12 element 1032
LOCAL = "https://fhirflow.dev/x12/"  # + qualifier: identifiers whose system is only the sender's

# --- code tables --------------------------------------------------------------------------------
# CLM05-1 qualifier B = place of service: CMS Place of Service code set
# https://www.cms.gov/medicare/coding-billing/place-of-service-codes/code-sets (subset; others kept as sent)
PLACE_OF_SERVICE: dict[str, str] = {
    "02": "Telehealth Provided Other than in Patient's Home", "10": "Telehealth Provided in Patient's Home",
    "11": "Office", "12": "Home", "19": "Off Campus-Outpatient Hospital", "20": "Urgent Care Facility",
    "21": "Inpatient Hospital", "22": "On Campus-Outpatient Hospital", "23": "Emergency Room - Hospital",
    "24": "Ambulatory Surgical Center", "31": "Skilled Nursing Facility", "32": "Nursing Facility",
    "41": "Ambulance - Land", "49": "Independent Clinic", "50": "Federally Qualified Health Center",
    "65": "End-Stage Renal Disease Treatment Facility", "81": "Independent Laboratory", "99": "Other Place of Service",
}

# CLM05-3 claim frequency type code: NUBC UB-04 FL04 3rd digit (X12 external code list 235)
# https://x12.org/codes/claim-frequency-codes
CLAIM_FREQUENCY_TEXT: dict[str, str] = {
    "0": "Non-payment/zero claim", "1": "Original claim (admit through discharge)", "2": "Interim - first claim",
    "3": "Interim - continuing claim", "4": "Interim - last claim", "5": "Late charge(s) only",
    "6": "Corrected claim (adjustment)", "7": "Replacement of prior claim", "8": "Void/cancel of prior claim",
    "9": "Final claim for a home health PPS episode",
}

# CLP02 claim status code, X12 element 1029 (835 TR3 2100 CLP02) -> ExplanationOfBenefit.outcome
# https://hl7.org/fhir/R4/valueset-remittance-outcome.html
CLP_STATUS_OUTCOME: dict[str, str] = {
    "1": "complete", "2": "complete", "3": "complete", "4": "error", "19": "complete", "20": "complete",
    "21": "complete", "22": "complete", "23": "complete", "25": "queued",
}
CLP_STATUS_TEXT: dict[str, str] = {
    "1": "Processed as Primary", "2": "Processed as Secondary", "3": "Processed as Tertiary", "4": "Denied",
    "19": "Processed as Primary, Forwarded to Additional Payer(s)",
    "20": "Processed as Secondary, Forwarded to Additional Payer(s)",
    "21": "Processed as Tertiary, Forwarded to Additional Payer(s)", "22": "Reversal of Previous Payment",
    "23": "Not Our Claim, Forwarded to Additional Payer(s)", "25": "Predetermination Pricing Only - No Payment",
}

# CAS01 claim adjustment group code, X12 element 1033: https://x12.org/codes/claim-adjustment-group-codes
CAS_GROUP_TEXT: dict[str, str] = {
    "CO": "Contractual Obligations", "CR": "Correction and Reversals", "OA": "Other adjustments",
    "PI": "Payor Initiated Reductions", "PR": "Patient Responsibility",
}

# CARC: a subset with their short descriptions, from https://x12.org/codes/claim-adjustment-reason-codes
# (every CARC is emitted with the CARC system; this table only adds display text)
CARC_TEXT: dict[str, str] = {
    "1": "Deductible Amount", "2": "Coinsurance Amount", "3": "Co-payment Amount",
    "4": "The procedure code is inconsistent with the modifier used", "16": "Claim/service lacks information",
    "18": "Exact duplicate claim/service", "22": "This care may be covered by another payer",
    "23": "The impact of prior payer(s) adjudication including payments and/or adjustments",
    "29": "The time limit for filing has expired", "45": "Charge exceeds fee schedule/maximum allowable",
    "50": "Non-covered service: not deemed a medical necessity", "96": "Non-covered charge(s)",
    "97": "The benefit for this service is included in the payment/allowance for another service",
    "151": "Payment adjusted because the payer deems the information submitted does not support this many/frequency of services",
    "253": "Sequestration - reduction in federal payment",
}

# BPR04 payment method code, X12 element 591 (835 TR3 BPR04)
PAYMENT_METHOD: dict[str, str] = {
    "ACH": "Automated Clearing House (ACH)", "BOP": "Financial Institution Option", "CHK": "Check",
    "FWT": "Federal Reserve Funds/Wire Transfer", "NON": "Non-Payment Data",
}

# SBR01 payer responsibility sequence number code, X12 element 1138 -> Coverage.order
PAYER_SEQUENCE: dict[str, int] = {"P": 1, "S": 2, "T": 3, "A": 4, "B": 5, "C": 6, "D": 7, "E": 8, "F": 9,
                                  "G": 10, "H": 11}

# SBR02 / INS02 individual relationship code, X12 element 1069 -> THO subscriber-relationship
# https://terminology.hl7.org/CodeSystem-subscriber-relationship.html
RELATIONSHIP: dict[str, str] = {
    "18": "self", "01": "spouse", "19": "child", "53": "common", "20": "other", "21": "other",
    "39": "other", "40": "other", "G8": "other", "15": "injured", "17": "child", "05": "child", "07": "other",
    "10": "other", "23": "other", "24": "other", "25": "other", "26": "other", "31": "other",
    "32": "parent", "33": "parent", "38": "other", "41": "other", "43": "other", "60": "other", "D2": "other",
}

# DMG03 / gender code, X12 element 1068 -> FHIR AdministrativeGender
GENDER: dict[str, str] = {"F": "female", "M": "male", "U": "unknown"}

# INS03 maintenance type code, X12 element 875 (834 TR3 2000 INS03)
MAINTENANCE_TYPE: dict[str, str] = {
    "001": "Change", "021": "Addition", "024": "Cancellation or Termination", "025": "Reinstatement",
    "026": "Correction", "030": "Audit or Compare", "032": "Employee Information Not Applicable",
}

# HD01 maintenance type drives Coverage.status (FHIR Financial Resource Status Codes):
# add/change/reinstate/audit -> active; cancellation/termination -> cancelled
MAINTENANCE_STATUS: dict[str, str] = {
    "001": "active", "021": "active", "024": "cancelled", "025": "active", "026": "active", "030": "active",
    "032": "active",
}

# 2300 HI qualifiers: ICD-10 code lists (X12 external code list 897); ABK/BK = principal, ABF/BF = other,
# ABJ/BJ = admitting, APR/PR = patient's reason for visit, ABN/BN = external cause of injury.
# Value: (code system of the diagnosis, diagnosis.type role). The role becomes a Coding via DIAGNOSIS_ROLE.
HI_DIAGNOSIS: dict[str, tuple[str, str]] = {
    "ABK": (ICD10CM, "principal"), "ABF": (ICD10CM, "other"), "ABJ": (ICD10CM, "admitting"),
    "APR": (ICD10CM, "patientreasonforvisit"), "ABN": (ICD10CM, "externalcauseofinjury"),
    "BK": (ICD9CM, "principal"), "BF": (ICD9CM, "other"), "BJ": (ICD9CM, "admitting"),
    "PR": (ICD9CM, "patientreasonforvisit"), "BN": (ICD9CM, "externalcauseofinjury"),
}
# diagnosis.type role -> (system, code). principal/admitting exist in THO ex-diagnosistype (R4 core, known to
# HAPI); the other roles exist only in CARIN's C4BBClaimDiagnosisType. An "other" diagnosis of a professional or
# dental claim is "secondary" in CARIN (C4BBClaimProfessionalAndNonClinicianDiagnosisType), see DIAGNOSIS_ROLE_837P.
DIAGNOSIS_ROLE: dict[str, tuple[str, str]] = {
    "principal": (DIAGNOSIS_TYPE, "principal"), "admitting": (DIAGNOSIS_TYPE, "admitting"),
    "other": (C4BB_DIAGNOSIS_TYPE, "other"), "secondary": (C4BB_DIAGNOSIS_TYPE, "secondary"),
    "patientreasonforvisit": (C4BB_DIAGNOSIS_TYPE, "patientreasonforvisit"),
    "externalcauseofinjury": (C4BB_DIAGNOSIS_TYPE, "externalcauseofinjury"),
}
DIAGNOSIS_ROLE_NON_INSTITUTIONAL: dict[str, str] = {"other": "secondary"}
HI_PROCEDURE: dict[str, tuple[str, str]] = {
    "BBR": (ICD10PCS, "principal"), "BBQ": (ICD10PCS, "other"), "BR": (ICD9CM, "principal"), "BQ": (ICD9CM, "other"),
}
HI_VALUE_QUALIFIERS = {"BE", "BH", "BI", "BG", "TC"}  # value, occurrence, occurrence span, condition, treatment codes

# SV101-1 / SV202-1 / SV301-1 product/service id qualifier, X12 element 235
PRODUCT_SERVICE_SYSTEM: dict[str, str] = {"HC": HCPCS, "AD": CDT, "N4": NDC, "IV": HCPCS, "ER": HCPCS,
                                          "WK": HCPCS, "HP": HCPCS}

# 837D TOO01 / DN205 code list qualifier: JP = ADA Universal National Tooth Designation System (X12 element 1270)
TOOTH_QUALIFIER = "JP"
# 837D DN202 tooth status code, X12 element 1368: E = to be extracted, M = missing
TOOTH_STATUS: dict[str, str] = {"E": "To be extracted", "M": "Missing"}

# NUBC UB-04 FL14 priority (type) of admission/visit: https://www.nubc.org/ (CL101)
# NUBC FL15 point of origin (CL102); NUBC FL17 patient discharge status (CL103) — kept as sent.

# 2010BB / 1000A / NM108 identification code qualifier, X12 element 66
ID_QUALIFIER_SYSTEM: dict[str, str] = {"XX": NPI, "FI": EIN, "24": EIN}


# CLM11-1..3 Related-Causes Code (X12 element 1362, 837 TR3 2300 CLM11) -> Claim.accident.type, in
# HL7 v3 ActIncidentCode (R4 example binding, https://terminology.hl7.org/ValueSet-v3-ActIncidentCode.html).
# "Other accident" has no incident code: it is kept as text.
ACT_INCIDENT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RELATED_CAUSE: dict[str, tuple[str, str]] = {
    "AA": ("MVA", "Motor vehicle accident"),
    "EM": ("WPA", "Workplace accident"),
    "OA": ("", "Other accident"),
}

# --- CARIN adjudication categories, care team roles, ambulance, drug units ---------------------------
# EOB.adjudication.category: CARIN's C4BBAdjudicationCategoryDiscriminator value set = the C4BBAdjudication
# value set (THO adjudication submitted/copay/eligible/deductible/benefit + C4BBAdjudication codes) and the
# C4BBAdjudicationDiscriminator codes (https://hl7.org/fhir/us/carin-bb/ValueSet-C4BBAdjudicationCategoryDiscriminator.html).
C4BB_ADJUDICATION_DISCRIMINATOR = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudicationDiscriminator"
# CAS01 group + CAS02 CARC -> (category system, category code): the member's share (PR 1/2/3 deductible,
# coinsurance, co-payment; any other PR = member liability), the prior payer's impact (CARC 23) and
# everything else as CARIN's "adjustmentreason" slice (the CARC in adjudication.reason, the amount kept).
# https://hl7.org/fhir/us/carin-bb/CodeSystem-C4BBAdjudication.html, CodeSystem-C4BBAdjudicationDiscriminator.html
CAS_PATIENT_SHARE: dict[str, tuple[str, str]] = {
    "1": (ADJUDICATION, "deductible"), "2": (C4BB_ADJUDICATION, "coinsurance"), "3": (ADJUDICATION, "copay"),
}
CAS_MEMBER_LIABILITY = (C4BB_ADJUDICATION, "memberliability")
CAS_PRIOR_PAYER = (C4BB_ADJUDICATION, "priorpayerpaid")
CAS_ADJUSTMENT = (C4BB_ADJUDICATION_DISCRIMINATOR, "adjustmentreason")
CARC_PRIOR_PAYER = "23"  # "The impact of prior payer(s) adjudication including payments and/or adjustments"

# 837 2320 AMT01 amount qualifier (X12 element 522) -> CARIN adjudication category of the other payer's amount
OTHER_PAYER_AMOUNT: dict[str, tuple[str, str]] = {
    "D": (C4BB_ADJUDICATION, "priorpayerpaid"),  # payer amount paid
    "A8": (C4BB_ADJUDICATION, "noncovered"),  # noncovered charges - actual
    "EAF": (C4BB_ADJUDICATION, "memberliability"),  # amount owed (remaining patient liability)
}

# Claim/EOB.careTeam.role. CARIN's C4BBClaimCareTeamRole holds attending, referring, operating, otheroperating,
# rendering, prescribing, purchasedservice (https://hl7.org/fhir/us/carin-bb/CodeSystem-C4BBClaimCareTeamRole.html);
# supervisor, assist and other are THO claimcareteamrole (https://terminology.hl7.org/CodeSystem-claimcareteamrole.html).
C4BB_CARE_TEAM_ROLE = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole"
CARE_TEAM_ROLE_THO = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
# NM101 entity identifier code (X12 element 98) of 2310x / 2420x / 835 2100 NM1 -> (system, role)
CARE_TEAM_ROLE: dict[str, tuple[str, str]] = {
    "82": (C4BB_CARE_TEAM_ROLE, "rendering"), "DN": (C4BB_CARE_TEAM_ROLE, "referring"),
    "P3": (C4BB_CARE_TEAM_ROLE, "referring"), "71": (C4BB_CARE_TEAM_ROLE, "attending"),
    "72": (C4BB_CARE_TEAM_ROLE, "operating"), "ZZ": (C4BB_CARE_TEAM_ROLE, "otheroperating"),
    "DQ": (CARE_TEAM_ROLE_THO, "supervisor"), "DD": (CARE_TEAM_ROLE_THO, "assist"),
    # 2420E ordering provider: neither CARIN nor THO has an "ordering" role; "other", with the X12 code beside it
    "DK": (CARE_TEAM_ROLE_THO, "other"),
}
ENTITY_IDENTIFIER = LOCAL + "entity-identifier-code"  # X12 element 98 (NM101): no published FHIR system
ENTITY_IDENTIFIER_TEXT: dict[str, str] = {"DK": "Ordering Physician"}

# 837P CR104 ambulance transport reason code (X12 element 1317), the system CARIN's
# C4BBAmbulanceTransportReasonCodes value set draws on (supportingInfo[ambulancetransportreason].reason)
AMBULANCE_TRANSPORT_REASON = "https://x12.org/codes/ambulance-transport-reason-codes"
AMBULANCE_TRANSPORT_REASON_TEXT: dict[str, str] = {
    "A": "Patient was transported to nearest facility for care of symptoms, complaints, or both",
    "B": "Patient was transported for the benefit of a preferred physician",
    "C": "Patient was transported for the nearness of family members",
    "D": "Patient was transported for the care of a specialist or for availability of specialized equipment",
    "E": "Patient Transferred to Rehabilitation Facility",
}
# CRC03-07 ambulance certification condition indicator (X12 element 1321, CRC01 = 07)
CONDITION_INDICATOR = LOCAL + "condition-indicator"  # X12 element 1321: no published FHIR system
AMBULANCE_CONDITION_TEXT: dict[str, str] = {
    "01": "Patient was admitted to a hospital", "04": "Patient was moved by stretcher",
    "05": "Patient was unconscious or in shock", "06": "Patient was transported in an emergency situation",
    "07": "Patient had to be physically restrained", "08": "Patient had visible hemorrhaging",
    "09": "Ambulance service was medically necessary", "12": "Patient is confined to a bed or chair",
}
UCUM = "http://unitsofmeasure.org"
# CTP05-1 / CR101 / CR105 unit or basis for measurement code (X12 element 355) -> UCUM (unit text, code)
UNIT_UCUM: dict[str, tuple[str, str]] = {
    "F2": ("international unit", "[iU]"), "GR": ("gram", "g"), "ME": ("milligram", "mg"),
    "ML": ("milliliter", "mL"), "UN": ("unit", "{unit}"), "LB": ("pound", "[lb_av]"), "DH": ("mile", "[mi_i]"),
}
