"""fhirflow: batch ETL from X12, C-CDA, HL7v2 and DICOM to FHIR R4 NDJSON, Parquet and bulk ``$import``.

Public entry points:

- :func:`etl.pipeline.convert` — input files → ``OUT/{fhir,parquet,errors}`` + ``manifest.json``
- :func:`etl.load.importer.import_folder` — a converted folder → a FHIR server's ``$import``
- :class:`etl.config.JobConfig` — the one settings object passed down the call chain
"""

import os

__version__ = "0.1.0"

if os.environ.get("FHIRFLOW_NO_EXTENSIONS", "") not in ("", "0"):
    from etl import _pure_python

    _pure_python.install()


def compiled() -> bool:
    """True when the mypyc-compiled modules are in use (see setup.py and ``FHIRFLOW_NO_EXTENSIONS``)."""
    from etl.fhir import ids

    return not (ids.__file__ or "").endswith(".py")
