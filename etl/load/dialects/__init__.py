"""Server flavours of bulk ``$import``. Each dialect builds the kick-off request and reads the
status responses; the importer does the rest. Add a dialect by writing a module with a class that
has the :class:`etl.load.dialects.base.ImportDialect` shape and listing it in :data:`DIALECTS`."""

from __future__ import annotations

from etl.errors import ConfigError
from etl.load.dialects.base import ImportDialect
from etl.load.dialects.hapi import HapiDialect

DIALECTS: dict[str, type[ImportDialect]] = {"hapi": HapiDialect}


def get_dialect(name: str) -> ImportDialect:
    """The dialect called ``name``."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise ConfigError(f"unknown $import dialect {name!r}; known: {', '.join(sorted(DIALECTS))}") from None
