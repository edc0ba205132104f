"""Transports that bring source data to fhirflow (MLLP for HL7 v2)."""
