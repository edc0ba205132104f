"""FHIR R4 helpers shared by every source: ids, references, OperationOutcome, validation."""
