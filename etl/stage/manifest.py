"""``manifest.json``, shaped like a FHIR Bulk Data ``$export`` completion manifest.

https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status — ``url`` values are
relative to the output folder (``fhir/Patient.000.ndjson``); the importer resolves them against
the address it publishes the folder at. fhirflow's own counts ride in ``extension``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def build_manifest(
    transaction_time: str,
    outputs: dict[str, list[tuple[str, int]]],
    errors: list[tuple[str, int]],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The manifest document. ``outputs`` maps type -> [(relative url, count)]."""
    return {
        "transactionTime": transaction_time,
        "request": "fhirflow convert",
        "requiresAccessToken": False,
        "output": [
            {"type": rtype, "url": url, "count": count}
            for rtype in sorted(outputs)
            for url, count in outputs[rtype]
        ],
        "error": [{"type": "OperationOutcome", "url": url, "count": count} for url, count in errors],
        "extension": {"https://fhirflow.dev/summary": summary},
    }


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` via a temp file and rename, so readers see all or nothing."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=2, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a converted folder."""
    with open(folder / MANIFEST) as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc
