"""Pre-flight checks per dialect: a violation names the file, line and rule, and nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from etl.cli import main
from etl.config import ImportConfig, JobConfig
from etl.errors import PreflightError
from etl.load.dialects import get_flavour
from etl.load.importer import import_folder
from etl.load.preflight import check
from etl.pipeline import convert

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "python-hl7"


@pytest.fixture
def converted(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    convert([HL7 / "sample_file1.hl7"], out, JobConfig(id_salt="s"))
    return out


def _entries(out: Path) -> list[dict[str, object]]:
    from etl.stage.manifest import read_manifest
    from etl.stage.output import current_generation

    return [o for o in read_manifest(current_generation(out))["output"] if o["count"]]


def _tamper(out: Path, rtype: str, change: dict[str, object]) -> str:
    """Rewrite the first resource of ``rtype``'s file with ``change``; the file's manifest url."""
    from etl.stage.output import current_generation

    gen = current_generation(out)
    entry = next(o for o in _entries(out) if o["type"] == rtype)
    path = gen / str(entry["url"])
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first.update(change)
    first = {k: v for k, v in first.items() if v is not None}
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    return str(entry["url"])


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"pre-flight let {request.method} {request.url} through")


def test_conditional_reference_and_missing_id_name_file_line_rule(converted: Path) -> None:
    url = _tamper(converted, "Encounter", {"subject": {"reference": "Patient?identifier=http://x|1"}})
    purl = _tamper(converted, "Patient", {"id": None})
    cfg = JobConfig(load=ImportConfig(fhir_url="http://fhir.test/fhir", dialect="hapi"))
    with httpx.Client(transport=httpx.MockTransport(_refuse)) as client, pytest.raises(PreflightError) as err:
        import_folder(converted, cfg, client=client)
    text = str(err.value)
    assert f"{url}: line 1: rule conditional-reference" in text
    assert f"{purl}: line 1: rule client-id" in text
    assert "identifier=http://x|1" not in text  # the reference's search values are not quoted


def test_dialects_that_cannot_carry_the_publisher_credential_need_storage(converted: Path) -> None:
    for dialect in ("azure", "pathling", "smart", "gcp"):
        cfg = JobConfig(load=ImportConfig(fhir_url="http://fhir.test/v1/projects/p/locations/l/datasets/d/fhirStores/s/fhir",
                                          dialect=dialect))
        with httpx.Client(transport=httpx.MockTransport(_refuse)) as client, pytest.raises(PreflightError) as err:
            import_folder(converted, cfg, client=client)
        assert "rule publisher-credential" in str(err.value)
    gcs = ImportConfig(fhir_url="http://x/fhirStores/s/fhir", dialect="gcp", public_base_url="https://files.example/out")
    found = check(converted, _entries(converted), get_flavour("gcp", gcs), gcs)
    assert any("rule source-scheme" in p for p in found.problems)


def test_file_count_limit_and_size_guidance(converted: Path) -> None:
    cfg = ImportConfig(public_base_url="https://example.blob.core.windows.net/out")
    dialect = get_flavour("azure", cfg)
    entries = _entries(converted)
    many = entries * (10_000 // len(entries) + 1)
    found = check(converted, many, dialect, cfg)
    assert any("rule max-files" in p and "at most 10000" in p for p in found.problems)
    fine = check(converted, entries, dialect, cfg)
    assert fine.problems == [] and any("50 MB" in w for w in fine.warnings)  # guidance warns, never refuses


def test_reference_order_and_cycles(converted: Path) -> None:
    cfg = ImportConfig(public_base_url="https://files.example/out")
    dialect = get_flavour("smart", cfg)
    found = check(converted, _entries(converted), dialect, cfg)
    assert found.problems == []
    assert found.order.index("Patient") < found.order.index("Encounter")
    _tamper(converted, "Patient", {"managingOrganization": {"reference": "Encounter/x"}})  # Patient <-> Encounter
    cyclic = check(converted, _entries(converted), dialect, cfg)
    assert any("rule reference-order" in p and "Encounter, Patient" in p for p in cyclic.problems)
    assert check(converted, _entries(converted), get_flavour("hapi"), cfg).problems == []  # HAPI orders itself


def test_one_job_at_a_time(converted: Path) -> None:
    cfg = ImportConfig()
    found = check(converted, _entries(converted), get_flavour("bulk-submit", cfg), cfg, ["/data/other-output"])
    assert any("rule one-job-at-a-time" in p and "/data/other-output" in p for p in found.problems)
    assert check(converted, _entries(converted), get_flavour("hapi"), cfg, ["/data/other-output"]).problems == []


def test_cli_exits_2(converted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", str(converted), "--fhir-url", "http://127.0.0.1:9/fhir", "--dialect", "azure", "--no-state"])
    assert code == 2
    assert "rule publisher-credential" in capsys.readouterr().err
