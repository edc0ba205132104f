"""C-CDA (HL7 CDA R2: C-CDA R1.1 and R2.1) documents → FHIR R4 (C-CDA on FHIR, US Core)."""
