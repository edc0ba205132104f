"""fhirflow: batch ETL from X12, C-CDA, HL7v2 and DICOM to FHIR R4 NDJSON, Parquet and bulk ``$import``.

Public entry points:

- :func:`etl.pipeline.convert` — input files → ``OUT/{fhir,parquet,errors}`` + ``manifest.json``
- :func:`etl.load.importer.import_folder` — a converted folder → a FHIR server's ``$import``
- :class:`etl.config.JobConfig` — the one settings object passed down the call chain
"""

__version__ = "0.1.0"
