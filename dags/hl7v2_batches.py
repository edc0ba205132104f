"""Airflow DAG: HL7 v2 batches from the landing folder to FHIR (shape: etl.flows.dag_factory)."""

from etl.flows.dag_factory import build_file_dag

dag = build_file_dag(
    "hl7v2_batches",
    "hl7v2",
    schedule="*/10 * * * *",
    tags=["fhirflow", "hl7v2"],
    doc_md="""
### hl7v2_batches
Picks up HL7 v2 files (single messages, batches, FHS/BHS files, batches of `fhirflow mllp listen`)
from `landing/hl7v2/`, converts ADT, ORU/OUL, ORM/OML, VXU, RDE/RDS/RAS, SIU, MDM, DFT/BAR, REF and PPR
messages to FHIR R4 (the resources of docs/hl7v2-mapping.md, one Provenance per message), stages NDJSON + Parquet, loads them with `$import`, then archives the inputs — or quarantines those
with rejected messages beside their error records and fails the run so it shows here.
Re-running a run is safe: ids are deterministic, so a re-load upserts.
""",
)
