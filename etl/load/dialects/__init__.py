"""How resources get onto a server: one :class:`~etl.load.dialects.base.Loader` per dialect.

- ``hapi``: bulk ``$import`` in HAPI FHIR's flavour (:mod:`etl.load.dialects.bulk` drives the
  :class:`~etl.load.dialects.hapi.HapiDialect` kick-off and status responses)
- ``transaction`` / ``batch``: Bundles of PUTs, for servers without ``$import``
  (:mod:`etl.load.dialects.bundles`)

Add a dialect by writing a module with a class of the ``Loader`` shape (or, for another server's
``$import``, an ``ImportDialect`` for the bulk loader) and listing it in :data:`DIALECTS`.
Verification and receipts stay in :mod:`etl.load.importer`, the same for every dialect.
"""

from __future__ import annotations

from collections.abc import Callable

from etl.config import ImportConfig
from etl.errors import ConfigError
from etl.load.dialects.base import Loader
from etl.load.dialects.bulk import BulkImportLoader
from etl.load.dialects.bundles import BundleLoader
from etl.load.dialects.hapi import HapiDialect

DIALECTS: dict[str, Callable[[ImportConfig], Loader]] = {
    "hapi": lambda cfg: BulkImportLoader(HapiDialect(cfg.import_chunk)),
    "transaction": lambda cfg: BundleLoader("transaction"),
    "batch": lambda cfg: BundleLoader("batch"),
}


def get_dialect(name: str, config: ImportConfig | None = None) -> Loader:
    """The loader of dialect ``name``."""
    try:
        return DIALECTS[name](config or ImportConfig())
    except KeyError:
        raise ConfigError(f"unknown load dialect {name!r}; known: {', '.join(sorted(DIALECTS))}") from None
