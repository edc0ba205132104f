"""Airflow DAG: the studies of a DICOMweb server (QIDO-RS + WADO-RS metadata) to FHIR."""

from etl.flows.dag_factory import build_dicomweb_dag

dag = build_dicomweb_dag(
    "dicomweb_metadata",
    schedule="@daily",
    tags=["fhirflow", "dicom", "dicomweb", "imaging"],
    doc_md="""
### dicomweb_metadata
Each run searches the DICOMweb server (param `dicomweb_url`) for the studies whose StudyDate lies in
the run's data interval (or the `since`/`until` params), reads their instance metadata with WADO-RS
(never pixel data) and loads ImagingStudy, Patient, Practitioner and an Endpoint for the server with
`$import`. Studies are whole: the run-state database (`<root>/state.db`) remembers every instance
read. A study the server refuses is an error record in `staged/dicomweb/<day>/<run>/batch-000/errors/`
and fails the run.
""",
)
