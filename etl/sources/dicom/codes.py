"""Code tables of the DICOM mapping, each citing its source.

- Modalities: DICOM PS3.16 CID 33 "Modality" (and CID 29 "Acquisition Modality", a subset), the
  binding of R4 ``ImagingStudy.modality`` / ``.series.modality``, code system
  ``http://dicom.nema.org/resources/ontology/DCM``.
- SOP classes: PS3.4 Annex B.5 "Standard SOP Classes" (names as in PS3.6 Annex A); the instance's
  ``sopClass`` is coded ``urn:ietf:rfc:3986`` / ``urn:oid:<uid>`` as in the R4 ImagingStudy examples.
- Coding scheme designators (0008,0102) to FHIR code system URIs: PS3.16 Section 8 Table 8-1
  "Coding Schemes" (its "HL7 FHIR URI" column).
- Body Part Examined (0018,0015) to SNOMED CT: PS3.16 Annex L "Correspondence of Anatomic Region
  Codes and Body Part Examined Defined Terms" (the common terms; others keep their text only).
- Laterality (0020,0060): PS3.16 CID 244 "Laterality" (SNOMED CT).
- PatientSex (0010,0040) to AdministrativeGender: the FHIR R4 Patient mapping (M, F, O).
"""

from __future__ import annotations

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SNOMED = "http://snomed.info/sct"
URI = "urn:ietf:rfc:3986"

# PS3.16 CID 33 Modality (2024 edition), code -> code meaning
MODALITIES: dict[str, str] = {
    "ANN": "Annotation", "AR": "Autorefraction", "ASMT": "Content Assessment Results", "AU": "Audio",
    "BDUS": "Bone Densitometry (ultrasound)", "BI": "Biomagnetic imaging", "BMD": "Bone Densitometry (X-Ray)",
    "CFM": "Confocal Microscopy", "CR": "Computed Radiography", "CT": "Computed Tomography",
    "CTPROTOCOL": "CT Protocol (Performed)", "DMS": "Dermoscopy", "DG": "Diaphanography",
    "DOC": "Document", "DX": "Digital Radiography", "ECG": "Electrocardiography",
    "EEG": "Electroencephalography", "EMG": "Electromyography", "EOG": "Electrooculography",
    "EPS": "Cardiac Electrophysiology", "ES": "Endoscopy", "FID": "Fiducials", "GM": "General Microscopy",
    "HC": "Hard Copy", "HD": "Hemodynamic Waveform", "IO": "Intra-Oral Radiography",
    "IOL": "Intraocular Lens Data", "IVOCT": "Intravascular Optical Coherence Tomography",
    "IVUS": "Intravascular Ultrasound", "KER": "Keratometry", "KO": "Key Object Selection",
    "LEN": "Lensometry", "LS": "Laser surface scan", "MG": "Mammography", "MR": "Magnetic Resonance",
    "M3D": "Model for 3D Manufacturing", "NM": "Nuclear Medicine", "OAM": "Ophthalmic Axial Measurements",
    "OCT": "Optical Coherence Tomography", "OP": "Ophthalmic Photography", "OPM": "Ophthalmic Mapping",
    "OPT": "Ophthalmic Tomography", "OPTBSV": "Ophthalmic Tomography B-scan Volume Analysis",
    "OPTENF": "Ophthalmic Tomography En Face", "OPV": "Ophthalmic Visual Field", "OSS": "Optical Surface Scanner",
    "OT": "Other", "PA": "Photoacoustic", "PLAN": "Plan", "POS": "Position Sensor", "PR": "Presentation State",
    "PT": "Positron emission tomography", "PX": "Panoramic X-Ray", "REG": "Registration",
    "RESP": "Respiratory Waveform", "RF": "Radio Fluoroscopy", "RG": "Radiographic imaging",
    "RTDOSE": "RT Dose", "RTIMAGE": "RT Image", "RTINTENT": "RT Intent", "RTPLAN": "RT Plan",
    "RTRAD": "RT Radiation", "RTRECORD": "RT Treatment Record", "RTSEGANN": "RT Segment Annotation",
    "RTSTRUCT": "RT Structure Set", "RWV": "Real World Value Map", "SEG": "Segmentation",
    "SM": "Slide Microscopy", "SMR": "Stereometric Relationship", "SR": "SR Document",
    "SRF": "Subjective Refraction", "STAIN": "Automated Slide Stainer", "TEXTUREMAP": "Texture Map",
    "TG": "Thermography", "US": "Ultrasound", "VA": "Visual Acuity", "XA": "X-Ray Angiography",
    "XAPROTOCOL": "XA Protocol (Performed)", "XC": "External-camera Photography",
}

# PS3.4 B.5 / PS3.6 Annex A: the storage SOP classes met in practice, uid -> name
SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.3": "Digital Intra-Oral X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.2": "CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image Storage",
    "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image Storage",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.11.1": "Grayscale Softcopy Presentation State Storage",
    "1.2.840.10008.5.1.4.1.1.12.1": "X-Ray Angiographic Image Storage",
    "1.2.840.10008.5.1.4.1.1.12.2": "X-Ray Radiofluoroscopic Image Storage",
    "1.2.840.10008.5.1.4.1.1.20": "Nuclear Medicine Image Storage",
    "1.2.840.10008.5.1.4.1.1.30": "Parametric Map Storage",
    "1.2.840.10008.5.1.4.1.1.66": "Raw Data Storage",
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.6": "VL Whole Slide Microscopy Image Storage",
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR Storage",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR Storage",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR Storage",
    "1.2.840.10008.5.1.4.1.1.88.59": "Key Object Selection Document Storage",
    "1.2.840.10008.5.1.4.1.1.88.67": "X-Ray Radiation Dose SR Storage",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF Storage",
    "1.2.840.10008.5.1.4.1.1.128": "Positron Emission Tomography Image Storage",
    "1.2.840.10008.5.1.4.1.1.481.1": "RT Image Storage",
    "1.2.840.10008.5.1.4.1.1.481.2": "RT Dose Storage",
    "1.2.840.10008.5.1.4.1.1.481.3": "RT Structure Set Storage",
    "1.2.840.10008.5.1.4.1.1.481.5": "RT Plan Storage",
}

# PS3.16 Table 8-1: Coding Scheme Designator (0008,0102) -> HL7 FHIR URI
CODING_SCHEMES: dict[str, str] = {
    "DCM": DCM,
    "SCT": SNOMED,
    "SRT": "http://snomed.info/srt",  # SNOMED-RT style ids ("T-D4000"), not SNOMED CT concept ids
    "LN": "http://loinc.org",
    "UCUM": "http://unitsofmeasure.org",
    "RADLEX": "http://radlex.org",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "NCIt": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
    "FMA": "http://purl.org/sig/ont/fma",
    "UMLS": "http://www.nlm.nih.gov/research/umls",
}

# PS3.16 Annex L, Body Part Examined defined term -> (SNOMED CT id, display)
BODY_PARTS: dict[str, tuple[str, str]] = {
    "ABDOMEN": ("113345001", "Abdomen"),
    "ANKLE": ("70258002", "Ankle joint"),
    "BRAIN": ("12738006", "Brain"),
    "BREAST": ("76752008", "Breast"),
    "CHEST": ("51185008", "Chest"),
    "CSPINE": ("122494005", "Cervical spine"),
    "ELBOW": ("16953009", "Elbow joint"),
    "EXTREMITY": ("66019005", "Extremity"),
    "FOOT": ("56459004", "Foot"),
    "HAND": ("85562004", "Hand"),
    "HEAD": ("69536005", "Head"),
    "HEART": ("80891009", "Heart"),
    "HIP": ("24136001", "Hip joint"),
    "KIDNEY": ("64033007", "Kidney"),
    "KNEE": ("72696002", "Knee"),
    "LIVER": ("10200004", "Liver"),
    "LSPINE": ("122496007", "Lumbar spine"),
    "NECK": ("45048000", "Neck"),
    "PELVIS": ("12921003", "Pelvis"),
    "PROSTATE": ("41216001", "Prostate"),
    "SHOULDER": ("16982005", "Shoulder"),
    "SKULL": ("89546000", "Skull"),
    "SPINE": ("421060004", "Spine"),
    "TSPINE": ("122495006", "Thoracic spine"),
    "WRIST": ("74670003", "Wrist joint"),
}

# PS3.16 CID 244 Laterality: (0020,0060) R | L | B -> SNOMED CT
LATERALITY: dict[str, tuple[str, str]] = {
    "R": ("24028007", "Right"),
    "L": ("7771000", "Left"),
    "B": ("51440002", "Right and left"),
}

# FHIR R4 Patient mapping of (0010,0040): anything else is "unknown"
GENDER: dict[str, str] = {"M": "male", "F": "female", "O": "other"}
