"""Loading converted folders into a FHIR server with the bulk ``$import`` operation.

- :mod:`etl.load.publish` serves the NDJSON over HTTP (servers pull their input)
- :mod:`etl.load.http` sends requests with retry/backoff on transient faults
- :mod:`etl.load.dialects` the server flavours of ``$import`` (HAPI first)
- :mod:`etl.load.importer` kick-off, polling, verification: :func:`import_folder`
"""
