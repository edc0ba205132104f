"""Structural validation of emitted resources.

Two levels, used by tests and by ``fhirflow validate``:

- :func:`validate_model` — fast, local: the fhir.resources **R4B** models (fhir.resources 8 has no
  R4 package; R4B shares R4's data types and nearly all resource shapes). Catches wrong types,
  unknown elements and bad primitives; does not check value sets.
- :func:`validate_on_server` — the authority: the FHIR server's ``[type]/$validate`` (HAPI runs the
  R4 core profiles and value-set bindings).
"""

from __future__ import annotations

from typing import Any

import httpx

# Elements that are valid R4 but changed shape in R4B; validated on the server only.
_R4_ONLY: dict[str, set[str]] = {}


def validate_model(resource: dict[str, Any]) -> list[str]:
    """Problems the R4B model finds in ``resource`` (empty when it validates)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    rtype = resource.get("resourceType", "")
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError):
        return [f"unknown resourceType {rtype!r}"]
    body = {k: v for k, v in resource.items() if k not in _R4_ONLY.get(rtype, set())}
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []


def validate_on_server(client: httpx.Client, base_url: str, resource: dict[str, Any]) -> list[str]:
    """Error and fatal issues from ``POST [base]/[type]/$validate`` (empty when valid)."""
    resp = client.post(
        f"{base_url.rstrip('/')}/{resource['resourceType']}/$validate",
        json=resource,
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
    )
    outcome = resp.json()
    return [
        f"{i.get('severity')}: {i.get('diagnostics') or i.get('details', {}).get('text', '')}"
        f" @ {','.join(i.get('location', []) or i.get('expression', []))}"
        for i in outcome.get("issue", [])
        if i.get("severity") in ("error", "fatal")
    ]
