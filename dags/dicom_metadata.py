"""Airflow DAG: DICOM files (Part 10, zip archives of studies) from the landing folder to FHIR."""

from etl.flows.dag_factory import build_file_dag

dag = build_file_dag(
    "dicom_metadata",
    "dicom",
    schedule="*/15 * * * *",
    tags=["fhirflow", "dicom", "imaging"],
    studies=True,
    doc_md="""
### dicom_metadata
Picks up DICOM files from `landing/dicom/` (Part 10 files with or without the preamble; a DICOMDIR set
or any folder of files lands as one zip archive) and reads their headers only (never pixel data).
Each batch records its instances in the run-state database (`<root>/state.db`); the `studies` task
then emits every study the run touched, whole (all series known from any run), as ImagingStudy with
Patient, Practitioner and Endpoint, which are loaded with `$import`. A file that is not DICOM, is cut
off or has an invalid UID is an error record naming the file and tag; it goes to
`quarantine/dicom/<day>/` and the run fails so it shows here (the rest is loaded).
""",
)
