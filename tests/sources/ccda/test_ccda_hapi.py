"""A sample of every resource type from every input document, checked by the real server's ``$validate``.

Every file under tests/data/ccda (the FHIR-Converter inputs and the HL7 example documents) goes
through :func:`etl.pipeline.convert` as the CLI and the DAG run it. From each document's output we
take up to :data:`PER_GROUP` resources per (type, kind) — kind being the Observation category or the
Condition category, so vital signs, results, social history and status observations are all
sampled — spread over the document (first, middle, last). About 300 resources, ~20 s on 4 threads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from ccda_helpers import DATA, SALT

from etl.config import JobConfig
from etl.fhir.validation import validate_on_server
from etl.pipeline import convert

PER_GROUP = 3
ALL_INPUTS = sorted((DATA / "fhir-converter" / "input").glob("*.ccda")) + sorted((DATA / "documents").glob("*.xml"))


def _kind(r: dict[str, Any]) -> str:
    cats = r.get("category") or []
    if r["resourceType"] in ("Observation", "Condition") and isinstance(cats, list) and cats:
        return str(cats[0].get("coding", [{}])[0].get("code", ""))
    return ""


def _sample(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(rows) <= PER_GROUP:
        return rows
    picks = sorted({0, len(rows) // 2, len(rows) - 1})
    return [rows[i] for i in picks]


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
def test_every_type_of_every_document_validates_on_hapi(hapi_url: str, tmp_path: Path) -> None:
    converted = _converted(tmp_path)
    samples: list[tuple[str, dict[str, Any]]] = []
    types_by_doc: dict[str, set[str]] = {}
    for name, (resources, errors) in converted.items():
        # Every input ends somewhere: resources, or error records naming it (the three HL7 examples
        # are a section snippet, a header-only stub and a body without recordTarget).
        assert resources or (errors and all(name in e["issue"][0]["diagnostics"] for e in errors)), name
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in resources:
            groups[(r["resourceType"], _kind(r))].append(r)
        types_by_doc[name] = {t for t, _ in groups}
        samples += [(name, r) for rows in groups.values() for r in _sample(rows)]
    assert sum(1 for r, _ in converted.values() if r) == 14
    assert len({r["resourceType"] for _, r in samples}) >= 25
    sampled = {(n, r["resourceType"]) for n, r in samples}
    assert sampled == {(n, t) for n, ts in types_by_doc.items() for t in ts}  # every type of every document

    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: (s, validate_on_server(client, hapi_url, s[1])), samples))
    problems = {f"{name}: {r['resourceType']}/{r['id']}": issues for (name, r), issues in results if issues}
    assert problems == {}
