"""Golden output of a small document, compared as parsed JSON (never byte for byte).

Regenerate after a deliberate mapping change with ``CCDA_UPDATE_GOLDEN=1 pytest tests/sources/ccda``
and review the diff.
"""

from __future__ import annotations

import json
import os

from ccda_helpers import DATA, INPUTS, convert_file

GOLDEN = DATA / "golden" / "direct-address"
SOURCE = next(p for p in INPUTS if p.name.startswith("Patient-and-Provider-Organization-Direct-Address"))


def test_golden_direct_address_document() -> None:
    resources, errors = convert_file(SOURCE)
    assert errors == []
    by_type: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for r in resources:
        if r["resourceType"] == "DocumentReference":
            r = json.loads(json.dumps(r))
            r["content"][0]["attachment"].pop("data", None)  # the embedded XML: checked elsewhere
        by_type.setdefault(r["resourceType"], []).append(r)
    if os.environ.get("CCDA_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for rtype, rows in by_type.items():
            (GOLDEN / f"{rtype}.ndjson").write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in rows))
    expected = {p.stem: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
                for p in GOLDEN.glob("*.ndjson")}
    assert set(expected) == set(by_type)
    for rtype, rows in by_type.items():
        assert sorted(rows, key=lambda x: x["id"]) == sorted(expected[rtype], key=lambda x: x["id"]), rtype
