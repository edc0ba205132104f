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
Coverage, RelatedPerson. The claim (837 2300, 835 CLP, 834 INS) is the unit of rejection, the
transaction set for envelope and header defects; files with rejections are in `quarantine/x12/<day>/`
beside their error records (ISA13/GS06/ST02, claim and segment position) and the run fails so it
shows here; everything else is loaded. A re-sent interchange (same control numbers and bytes) is
skipped only once it was loaded (the ledger in the run-state database, `<root>/state.db`), and set
aside in `duplicates/x12/<day>/`; re-running a run is safe (ids are deterministic).
""",
)
