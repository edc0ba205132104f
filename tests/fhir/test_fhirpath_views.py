"""The official SQL-on-FHIR v2 test suite (tests/data/sql-on-fhir), every case run through
``fhirflow views run``: the case's resources as NDJSON, its view as a file, the table as NDJSON,
compared with ``expect`` with rows unordered; ``expectError`` cases must exit non-zero, say why,
and write nothing. One test per case, named ``<file>:<title>``; the per-file tally is printed at
the end of the run (tests/conftest.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from etl import cli
from etl.errors import ConfigError
from etl.stage.views import View, load_views

SUITE = Path(__file__).resolve().parents[1] / "data" / "sql-on-fhir"
SUITE_RESULTS: dict[str, list[int]] = {}  # file -> [passed, total], read by the terminal summary hook


def _cases() -> list[Any]:
    out = []
    for path in sorted(SUITE.glob("*.json")):
        doc = json.loads(path.read_text())
        for case in doc["tests"]:
            out.append(pytest.param(path.name, doc["resources"], case, id=f"{path.stem}:{case['title']}"))
    return out


def _canon(value: Any) -> Any:
    """Numbers compared as numbers (1.5 == 1.50; 5 == 5.0), everything else as is."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return format(Decimal(str(value)).normalize(), "f")
    if isinstance(value, list):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    return value


def _norm(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(_canon(r), sort_keys=True) for r in rows)


@pytest.mark.parametrize(("file", "resources", "case"), _cases())
def test_sql_on_fhir_suite(file: str, resources: list[dict[str, Any]], case: dict[str, Any], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    SUITE_RESULTS.setdefault(file, [0, 0])[1] += 1
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "resources.ndjson").write_text("".join(json.dumps(r) + "\n" for r in resources))
    view_file = tmp_path / "case_view.json"
    view_file.write_text(json.dumps(case["view"]))
    out = tmp_path / "out"
    status = cli.main(["views", "run", str(view_file), "--input", str(tmp_path / "in"), "--output", str(out),
                       "--format", "ndjson"])
    written = sorted(out.glob("*.ndjson")) if out.exists() else []
    if case.get("expectError"):
        assert status != 0
        assert "fhirflow views:" in capsys.readouterr().err
        assert written == []  # nothing written for an invalid view
    else:
        assert status == 0, capsys.readouterr().err
        assert len(written) == 1
        rows = [json.loads(line, parse_float=Decimal) for line in written[0].read_text().splitlines()]
        assert _norm(rows) == _norm(case["expect"])
    SUITE_RESULTS[file][0] += 1


def test_suite_has_the_spec_files() -> None:
    """The 16 files of the shared copy plus the six the spec's current build added (provenance in
    PROVENANCE.md): a file dropped by mistake would otherwise just mean fewer tests."""
    names = {p.stem for p in SUITE.glob("*.json")}
    assert len(names) == 22
    assert {"repeat", "row_index", "fn_reference_keys", "fn_boundary", "constant_types", "combinations"} <= names


def test_project_views_compile_and_have_one_row_per_resource() -> None:
    views = load_views()
    assert {"Patient", "Encounter", "Observation", "DiagnosticReport"} <= set(views)
    for rtype, view in views.items():
        rows = view.rows({"resourceType": rtype, "id": "x"})
        assert len(rows) == 1 and rows[0]["id"] == "x"
        assert view.column_names == list(rows[0])


def test_missing_views_folder_is_a_config_error_not_tables_without_columns(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="views are not at"):
        load_views(tmp_path / "nowhere")


@pytest.mark.parametrize(("patch", "element", "what"), [
    ({"selct": []}, "selct", "not an element"),
    ({"select": [{"column": [{"name": "a", "path": "name.("}]}]}, "select[0].column[0].path", "FHIRPath"),
    ({"select": [{"column": [{"name": "a", "path": "name.exists()", "type": "integer"}]}]},
     "select[0].column[0].type", "gives 'boolean'"),
    ({"select": [{"column": [{"name": "a", "path": "id", "type": "Nonsense type"}]}]}, "select[0].column[0].type",
     "not a FHIR type"),
    ({"select": [{"forEach": "name", "repeat": ["item"], "column": [{"name": "a", "path": "id"}]}]}, "select[0]",
     "at most one"),
])
def test_invalid_view_names_the_view_the_element_and_what_is_wrong(patch: dict[str, Any], element: str, what: str) -> None:
    definition = {"resourceType": "ViewDefinition", "name": "bad_view", "resource": "Patient",
                  "select": [{"column": [{"name": "id", "path": "id"}]}]} | patch
    with pytest.raises(ConfigError) as info:
        View(definition)
    assert "'bad_view'" in str(info.value) and element in str(info.value) and what in str(info.value)
