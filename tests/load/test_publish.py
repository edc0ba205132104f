from pathlib import Path

import httpx

from etl.load.publish import Publisher


def test_serves_ndjson_with_fhir_content_type_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "fhir").mkdir()
    (tmp_path / "fhir" / "Patient.000.ndjson").write_bytes(b'{"resourceType":"Patient"}\n')
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path.parent / "secret.ndjson").write_text("no")
    with Publisher(tmp_path) as base:
        r = httpx.get(f"{base}/fhir/Patient.000.ndjson")
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/fhir+ndjson"
        assert r.content == b'{"resourceType":"Patient"}\n'
        assert httpx.head(f"{base}/fhir/Patient.000.ndjson").headers["Content-Length"] == "27"
        assert httpx.get(f"{base}/manifest.json").status_code == 404
        assert httpx.get(f"{base}/../secret.ndjson").status_code == 404
        assert httpx.get(f"{base}/%2e%2e/secret.ndjson").status_code == 404
        assert base.startswith("http://127.0.0.1:")
