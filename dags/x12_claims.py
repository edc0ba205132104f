"""Airflow DAG: X12 claim files (837P/I/D, 835, 834) from the landing folder to FHIR."""

from etl.flows.dag_factory import build_file_dag

dag = build_file_dag(
    "x12_claims",
    "x12",
    schedule="*/15 * * * *",
    tags=["fhirflow", "x12", "claims"],
    doc_md="""
### x12_claims
Picks up ASC X12 5010 files from `landing/x12/`: 837P/837I/837D → Claim (+ Patient, Coverage,
Organization, Practitioner), 835 → ExplanationOfBenefit + PaymentReconciliation, 834 → Patient,
Coverage, RelatedPerson. The transaction set (ST…SE) is the unit of rejection; rejected sets are in
`quarantine/x12/<day>/` beside their error records (ISA13/GS06/ST02, segment position) and the run
fails so it shows here; the other sets are loaded. A re-sent interchange (same ISA06 + ISA13) is
skipped using the ledger in `ledger/x12-interchanges.json`; re-running a run is safe (ids are
deterministic, the ledger knows its own run).
""",
)
