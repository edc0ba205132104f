"""Airflow DAG: C-CDA documents from the landing folder to FHIR."""

from etl.flows.dag_factory import build_file_dag

dag = build_file_dag(
    "ccda_documents",
    "ccda",
    schedule="*/15 * * * *",
    tags=["fhirflow", "ccda"],
    doc_md="""
### ccda_documents
Picks up C-CDA R1.1/R2.1 documents (CCD, Discharge Summary, Referral/Progress/Consultation/Operative/
Procedure Notes, H&P, Transfer Summary, Care Plan, Imaging Report, Unstructured) from
`landing/ccda/`, converts them to FHIR R4 following C-CDA on FHIR and US Core (Composition, Patient,
practitioners and organizations, and one resource per section entry), loads them with `$import`.
XML is parsed hardened (no entities, no DTD, no network, size-bounded). A document that cannot be
read, or a section that cannot, becomes an error record naming the file, document id and section;
the rest of the document still converts. Inputs with rejections go to `quarantine/ccda/<day>/`.
""",
)
