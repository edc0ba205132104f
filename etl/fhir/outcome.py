"""Error records: one FHIR R4 OperationOutcome per rejected source unit.

https://hl7.org/fhir/R4/operationoutcome.html — the file and the place in it travel in
``issue.diagnostics`` (human text) and in two extensions (machine-readable), because
``issue.location`` is meant for XPath into a FHIR resource, not for X12 segment positions.
"""

from __future__ import annotations

from typing import Any

from etl.errors import InputError, Location
from etl.fhir.ids import IdFactory

EXT_SOURCE_FILE = "https://fhirflow.dev/fhir/StructureDefinition/source-file"
EXT_SOURCE_LOCATION = "https://fhirflow.dev/fhir/StructureDefinition/source-location"
# The source values an analyst needs to find the record (CLM01, MSH-10, …), one sub-extension per spec
# path. Only here, in the error NDJSON: the issue's text (logs, XCom, UI) never quotes the input.
EXT_SOURCE_EXCERPT = "https://fhirflow.dev/fhir/StructureDefinition/source-excerpt"


def issue(severity: str, code: str, text: str, expression: str | None = None,
          quoted: dict[str, str] | None = None) -> dict[str, Any]:
    """One ``OperationOutcome.issue``; ``quoted`` (spec path -> source value) becomes its
    source-excerpt extension."""
    out: dict[str, Any] = {"severity": severity, "code": code, "details": {"text": text}}
    if expression:
        out["expression"] = [expression]
    if quoted:
        # A sub-extension's url is a uri (no whitespace): "2010BA NM109" is keyed "2010BA-NM109".
        out["extension"] = [{"url": EXT_SOURCE_EXCERPT, "extension": [
            {"url": "-".join(path.split()) or "value", "valueString": value} for path, value in quoted.items()]}]
    return out


def source_excerpt(issue_: dict[str, Any]) -> dict[str, str]:
    """The source values of one issue of an error or warnings record (spec path -> value)."""
    for ext in issue_.get("extension", []):
        if ext.get("url") == EXT_SOURCE_EXCERPT:
            return {e["url"]: e["valueString"] for e in ext.get("extension", [])}
    return {}


def to_fhir_operation_outcome(
    error: InputError, ids: IdFactory, *, warnings: list[str] | None = None
) -> dict[str, Any]:
    """The error record for ``error``. Its id is keyed on the location and message, so a re-run
    writes the same record.

    :return: https://hl7.org/fhir/R4/operationoutcome.html
    """
    loc = error.location or Location(file="<unknown>")
    text = error.message
    diagnostics = f"{loc.file}: {loc.where}: {text}" if loc.where else f"{loc.file}: {text}"
    issues = [issue("error", error.code, text, loc.expression, error.quoted)]
    issues[0]["diagnostics"] = diagnostics
    issues += [issue("warning", "informational", w) for w in warnings or []]
    return {
        "resourceType": "OperationOutcome",
        "id": ids.make("OperationOutcome", loc.file, loc.where, loc.expression, text),
        "extension": [
            {"url": EXT_SOURCE_FILE, "valueString": loc.file},
            {"url": EXT_SOURCE_LOCATION, "valueString": loc.where or "whole file"},
        ],
        "issue": issues,
    }
