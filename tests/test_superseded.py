"""A resource that replaces another version of itself within one run is never silent.

The NDJSON keeps the last version of an id (a replacement claim, a reused CLM01, a payer sent with
and without its address): the summary counts it per type, the manifest and terminal show it, and
the unit that replaced it carries a warning naming the id.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "sources" / "x12"))
from x12_build import claim_837, file_837, run, subscriber_837  # noqa: E402

from etl.config import Strictness  # noqa: E402


def test_a_reused_clm01_with_other_content_is_counted_and_warned(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1", "100", ("100",)),
                                          claim_837("PCN1", "250", ("250",))]))
    summary, found = run(tmp_path, data)
    (claim,) = found["Claim"]
    assert claim["total"]["value"] == 250  # the later one is kept
    assert summary.superseded == {"Claim": 1}
    assert summary.to_dict()["superseded"] == {"Claim": 1}
    assert "Claim" in summary.render() and "1 replaced an earlier version in this run" in summary.render()
    texts = [i["details"]["text"] for w in found["warnings"] for i in w["issue"]]
    assert any(t.startswith(f"Claim/{claim['id']}: replaces a version") for t in texts)
    manifest = json.loads((tmp_path / "out-in.x12" / "manifest.json").read_text())
    assert manifest["extension"]["https://fhirflow.dev/summary"]["superseded"] == {"Claim": 1}


def test_an_identical_copy_is_not_a_replacement(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1"), claim_837("PCN1")]))
    summary, found = run(tmp_path, data)
    assert len(found["Claim"]) == 1
    assert summary.superseded == {} and "warnings" not in found


def test_ignore_strictness_still_counts_replacements(tmp_path: Path) -> None:
    data = file_837(subscriber_837("M1", [claim_837("PCN1", "100", ("100",)),
                                          claim_837("PCN1", "250", ("250",))]))
    summary, found = run(tmp_path, data, strictness=Strictness.IGNORE)
    assert summary.superseded == {"Claim": 1} and "warnings" not in found
