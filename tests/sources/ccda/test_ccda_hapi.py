"""One resource of each type the C-CDA source emits, checked by the real server's ``$validate``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ccda_helpers import INPUTS, convert_file

from etl.fhir.validation import validate_on_server


def _one_of_each() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in INPUTS:
        resources, _ = convert_file(path)
        for r in resources:
            out.setdefault(r["resourceType"], r)
    return out


@pytest.mark.hapi
def test_one_of_each_type_validates_on_hapi(hapi_url: str) -> None:
    samples = _one_of_each()
    assert len(samples) >= 20
    with httpx.Client(timeout=60) as client:
        problems = {rtype: validate_on_server(client, hapi_url, r) for rtype, r in sorted(samples.items())}
    assert {k: v for k, v in problems.items() if v} == {}
