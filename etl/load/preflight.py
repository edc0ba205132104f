"""Pre-flight checks of a load, per dialect, before anything is sent to the server.

Rules (each violation names the file, the line where it applies, and the rule; no resource content
is quoted, the ids are fhirflow's hashed ones):

- ``client-id``: every resource carries an ``id`` (``$import`` stores resources under the client's
  ids: HAPI, Azure, Google "Every resource in the input must contain a client-supplied ID").
- ``conditional-reference``: no ``Type?search`` references (Azure: "The import operation doesn't
  support conditional references"; HAPI's and the others' bulk loaders do not resolve them either).
- ``reference-order``: for dialects that load in the order given (``ordered_inputs``), every
  referenced type is listed before the types that reference it; a cycle between types cannot be
  ordered and is reported. The importer then sends the inputs in that order.
- ``max-files``: at most ``max_files`` files per job (Azure and AWS HealthLake: 10,000).
- ``publisher-credential``: the built-in publisher requires a per-job credential, so a dialect that
  cannot hand one to the server (``carries_credential`` false: Azure, Pathling, SMART ping-and-pull,
  Google) needs the files published elsewhere (``--public-base-url``, object storage).
- ``source-scheme``: a dialect that reads only some storage (Google: ``gs://``) gets such URLs.
- ``one-job-at-a-time``: servers that demand it (``one_job_at_a_time``: Azure InitialLoad,
  ``$bulk-submit``) get no second job while the run-state database holds an open one for them.

Guidance that is not a rule is logged as a warning: Azure performs best with files of ≥ 50 MB or
≥ 20,000 resources (https://learn.microsoft.com/azure/healthcare-apis/fhir/import-data), which a
small daily batch cannot reach and need not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.config import ImportConfig
from etl.errors import PreflightError
from etl.load.dialects.base import ImportDialect
from etl.stage.ndjson import read_ndjson

log = logging.getLogger(__name__)


@dataclass
class Preflight:
    """What the checks found: the violations, the warnings, and the type order to send in."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def raise_if_failed(self) -> None:
        for w in self.warnings:
            log.warning("pre-flight: %s", w)
        if self.problems:
            raise PreflightError(self.problems)


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _ref_type(ref: str) -> str | None:
    """The target type of a relative literal reference (``Patient/123``, ``Patient/1/_history/2``)."""
    if ref.startswith("#") or "://" in ref or ref.startswith("urn:"):
        return None
    head = ref.split("/", 1)[0]
    return head if head[:1].isupper() and "/" in ref else None


def _topological(types: list[str], edges: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """(order with referenced types first, the types left in a cycle)."""
    pending = {t: {d for d in edges.get(t, set()) if d in types and d != t} for t in types}
    order: list[str] = []
    while pending:
        ready = sorted(t for t, deps in pending.items() if not deps)
        if not ready:
            return order, sorted(pending)
        for t in ready:
            order.append(t)
            del pending[t]
        for deps in pending.values():
            deps.difference_update(ready)
    return order, []


def check(folder: Path, entries: list[dict[str, Any]], dialect: ImportDialect, cfg: ImportConfig,
          other_open_jobs: list[str] | None = None) -> Preflight:
    """Check the manifest ``entries`` (type, url, count) of ``folder`` against ``dialect``'s rules."""
    result = Preflight()
    name = getattr(dialect, "name", "?")
    edges: dict[str, set[str]] = {}
    for o in entries:
        path = folder / o["url"]
        for line, resource in enumerate(read_ndjson(path), 1):
            if not resource.get("id"):
                result.problems.append(f"{o['url']}: line {line}: rule client-id: a {resource.get('resourceType', '?')} "
                                       f"without an id ($import stores resources under the client's ids)")
            for ref in _references(resource):
                if "?" in ref:
                    result.problems.append(f"{o['url']}: line {line}: rule conditional-reference: "
                                           f"{resource.get('resourceType', '?')}/{resource.get('id', '?')} has a "
                                           f"conditional reference, which {name}'s $import does not resolve")
                    continue
                target = _ref_type(ref)
                if target:
                    edges.setdefault(o["type"], set()).add(target)
        small_bytes = getattr(dialect, "small_file_bytes", 0)
        small_count = getattr(dialect, "small_file_resources", 0)
        if small_bytes and path.stat().st_size < small_bytes and int(o.get("count", 0)) < small_count:
            result.warnings.append(f"{o['url']}: below {name}'s guidance of >= {small_bytes // 2**20} MB or "
                                   f">= {small_count} resources per file (slower, not refused)")
    types = sorted({o["type"] for o in entries})
    order, cycle = _topological(types, edges)
    if getattr(dialect, "ordered_inputs", False) and cycle:
        files = ", ".join(o["url"] for o in entries if o["type"] in cycle)
        result.problems.append(f"{files}: rule reference-order: {', '.join(cycle)} reference each other, so no "
                               f"order puts every referenced type first, and {name} loads in the order given")
    result.order = order + cycle
    max_files = getattr(dialect, "max_files", 0)
    if max_files and len(entries) > max_files:
        result.problems.append(f"manifest.json: rule max-files: {len(entries)} files, {name} takes at most "
                               f"{max_files} per job (convert with a larger --max-file-mb)")
    if not cfg.public_base_url and not cfg.publish_url and not getattr(dialect, "carries_credential", True):
        result.problems.append(f"manifest.json: rule publisher-credential: {name} cannot present the built-in "
                               "publisher's per-job credential; publish the files where the server reads them "
                               "(--public-base-url, or --publish s3://… with pre-signed URLs)")
    schemes = getattr(dialect, "source_schemes", ())
    if schemes and not (cfg.public_base_url or "").startswith(tuple(schemes)):
        result.problems.append(f"manifest.json: rule source-scheme: {name} reads only {', '.join(schemes)} "
                               f"URLs (--public-base-url {schemes[0]}bucket/prefix)")
    if getattr(dialect, "one_job_at_a_time", False) and other_open_jobs:
        result.problems.append(f"manifest.json: rule one-job-at-a-time: {name} runs one import at a time and "
                               f"the job of {other_open_jobs[0]} is still open (resume or cancel it first)")
    return result
