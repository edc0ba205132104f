"""Every resource of every input document, checked by the real server's ``$validate``.

Every file under tests/data/ccda (the FHIR-Converter inputs, the HL7 example documents and the
hand-made cases) goes through :func:`etl.pipeline.convert` as the CLI and the DAG run it, and every
distinct resource it emits (the same entry in two revisions of a document is validated once) is
posted to HAPI's ``$validate``: none may have an error. About 1,000 resources, ~1 min on 4 threads.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from ccda_helpers import ALL_INPUTS, SALT

from etl.config import JobConfig
from etl.fhir.validation import validate_on_server
from etl.pipeline import convert


def _converted(tmp: Path) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """file name -> (resources, error records), one pipeline run per file."""
    out: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for path in ALL_INPUTS:
        dest = tmp / path.name
        convert([path], dest, JobConfig(id_salt=SALT))
        read = [json.loads(line) for f in sorted((dest / "fhir").glob("*.ndjson")) for line in f.read_text().splitlines()]
        errs = [json.loads(line) for f in sorted((dest / "errors").glob("*.ndjson")) for line in f.read_text().splitlines()]
        out[path.name] = (read, errs)
    return out


@pytest.mark.hapi
def test_every_resource_of_every_document_validates_on_hapi(hapi_url: str, tmp_path: Path) -> None:
    converted = _converted(tmp_path)
    distinct: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, (resources, errors) in converted.items():
        # Every input ends somewhere: resources, or error records naming it (the HL7 examples include a
        # section snippet, a header-only stub and bodies without recordTarget).
        assert resources or (errors and all(name in e["issue"][0]["diagnostics"] for e in errors)), name
        for r in resources:
            distinct.setdefault(json.dumps(r, sort_keys=True), (name, r))
    assert sum(1 for r, _ in converted.values() if r) >= 25
    assert len({r["resourceType"] for _, r in distinct.values()}) >= 25

    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: (s, validate_on_server(client, hapi_url, s[1])), distinct.values()))
    problems = {f"{name}: {r['resourceType']}/{r['id']}": issues for (name, r), issues in results if issues}
    assert problems == {}
