"""Taking over the JSON interchange ledger of fhirflow 0.1 (``.fhirflow-x12-ledger.json`` beside
the CLI's output folders, ``<root>/ledger/x12-interchanges.json`` for the DAGs).

On first use of a SQLite state database, a JSON ledger at either place beside it is read into the
database (entries become ``loaded`` interchanges without a digest, matched by ISA09/ISA10 as that
ledger did) and renamed ``….migrated``, so it is taken over once. Any other file:
``fhirflow ledger import FILE``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from etl.errors import ConfigError
from etl.state.interchanges import InterchangeId
from etl.state.store import StateStore, now

log = logging.getLogger(__name__)

# Where fhirflow 0.1 kept its ledger, relative to the folder the state database now lives in.
OLD_PLACES = (".fhirflow-x12-ledger.json", "ledger/x12-interchanges.json")


def adopt_json_ledgers(state: StateStore) -> int:
    """Import the old ledgers found beside a SQLite ``state`` (see the module doc); returns how
    many entries were added."""
    url = make_url(state.engine.url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return 0
    added = 0
    folder = Path(url.database).parent
    for rel in OLD_PLACES:
        path = folder / rel
        if path.is_file():
            added += import_json_ledger(state, path)
            os.replace(path, path.with_name(path.name + ".migrated"))
            log.warning("took over the JSON ledger %s (%d interchanges) into %s; the file is now %s.migrated",
                        path, added, state.url, path.name)
    return added


def import_json_ledger(state: StateStore, path: Path) -> int:
    """Add the entries of a fhirflow 0.1 JSON ledger to ``state``; returns how many were new."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries: dict[str, Any] = dict(doc.get("interchanges", {}))
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"the JSON ledger {path} cannot be read ({exc}); fix it, or move it away "
                          "to start with an empty ledger") from None
    added = 0
    for entry in entries.values():
        # 0.1 knew ISA06 and ISA13 only: the qualifiers and receiver are left empty, so these
        # entries match by sender and control number (and stamp) whatever the receiver.
        key = InterchangeId("", str(entry.get("sender", "")), "", "", str(entry.get("control", "")))
        added += state.interchanges.add_legacy(key, str(entry.get("stamp") or ""), str(entry.get("file", "")),
                                               str(entry.get("run") or "json-ledger"),
                                               str(entry.get("loaded") or now()))
    return added
