"""``fhirflow import --publish s3://…``: the job's NDJSON goes to a real S3 API server (moto on
127.0.0.1) and the real HAPI server fetches it through pre-signed URLs of the configured lifetime."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import fsspec
import httpx
import pytest

from etl.config import ImportConfig, JobConfig
from etl.load.importer import import_folder
from etl.pipeline import convert

pytestmark = pytest.mark.hapi

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2"


def test_hapi_imports_from_presigned_s3_urls(tmp_path: Path, hapi_url: str, s3: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = JobConfig(id_salt="s3-publish-test", load=ImportConfig(
        fhir_url=hapi_url, publish_url=f"{s3}/publish", presign_seconds=900, max_retry_after_s=2, poll_interval_s=1))
    convert([HL7 / "python-hl7" / "sample_batch1.hl7"], tmp_path / "out", cfg)
    kicked: list[dict[str, object]] = []
    real = httpx.Client.request

    def spy(self: httpx.Client, method: str, url: object, **kw: object) -> httpx.Response:
        if str(url).endswith("/$import"):
            kicked.append(kw.get("json"))  # type: ignore[arg-type]
        return real(self, method, url, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.Client, "request", spy)
    report = import_folder(tmp_path / "out", cfg)
    assert report.found == report.sent and report.sent
    inputs = [p for p in kicked[0]["parameter"] if p["name"] == "input"]  # type: ignore[index]
    urls = [part["valueUri"] for i in inputs for part in i["part"] if part["name"] == "url"]
    assert urls and all(u.startswith("http://127.0.0.1:") and "X-Amz-Signature" in u for u in urls)
    assert all(parse_qs(urlsplit(u).query)["X-Amz-Expires"] == ["900"] for u in urls)
    storage = next(p for p in kicked[0]["parameter"] if p["name"] == "storageDetail")  # type: ignore[index]
    assert not any(part["name"] == "credentialHttpBasic" for part in storage["part"])  # the URL is the credential
    assert fsspec.filesystem("s3").find(f"{s3[5:]}/publish") == []  # removed once the job ended
