"""HL7 v2.x messages and batches (ER7 pipe-and-hat) to FHIR R4."""
