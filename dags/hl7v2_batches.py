"""Airflow DAG: HL7 v2 batches from the landing folder to FHIR (shape: etl.flows.dag_factory)."""

from etl.flows.dag_factory import build_file_dag

dag = build_file_dag(
    "hl7v2_batches",
    "hl7v2",
    schedule="*/10 * * * *",
    tags=["fhirflow", "hl7v2"],
    doc_md="""
### hl7v2_batches
Picks up HL7 v2 files (single messages, batches, FHS/BHS files) from `landing/hl7v2/`, converts
ADT^A01/A03/A04/A08 and ORU^R01 to FHIR R4 (Patient, Encounter, DiagnosticReport, Observation),
stages NDJSON + Parquet, loads them with `$import`, then archives the inputs — or quarantines those
with rejected messages beside their error records and fails the run so it shows here.
Re-running a run is safe: ids are deterministic, so a re-load upserts.
""",
)
