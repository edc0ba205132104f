"""ASC X12 005010 HIPAA transactions (837P/I/D, 835, 834) as a fhirflow source."""
