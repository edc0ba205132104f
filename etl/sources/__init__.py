"""Source formats. Each subpackage has the same shape:

- ``parse.py`` — streaming reader: file → :class:`etl.sources.base.Unit` (the unit of rejection)
- ``model.py`` — typed views of parsed records, fields named by spec path
- ``to_fhir.py`` — pure mappers ``to_fhir_<resource>(record, ctx) -> dict``
- ``codes.py`` — code tables as data, each citing its source
- ``source.py`` — the :class:`etl.sources.base.Source` tying them together
"""
