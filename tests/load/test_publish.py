import logging
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from etl.errors import ConfigError
from etl.load.dialects.base import ImportInput
from etl.load.dialects.hapi import HapiDialect
from etl.load.publish import Publisher, is_loopback, new_credential


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


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "fhir").mkdir()
    (tmp_path / "fhir" / "Patient.000.ndjson").write_bytes(b'{"resourceType":"Patient"}\n')
    (tmp_path / "fhir" / "Claim.000.ndjson").write_bytes(b'{"resourceType":"Claim"}\n')
    return tmp_path


def test_serves_only_the_jobs_files_and_only_with_its_credential(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    cred = new_credential()
    with Publisher(folder, files=["fhir/Patient.000.ndjson"], credential=cred) as base:
        url = f"{base}/fhir/Patient.000.ndjson"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url).headers["WWW-Authenticate"].startswith("Basic")
        assert httpx.get(url, auth=(cred[0], "wrong")).status_code == 401
        assert httpx.head(url).status_code == 401
        ok = httpx.get(url, auth=cred)
        assert ok.status_code == 200 and ok.content == b'{"resourceType":"Patient"}\n'
        # a file of the folder that is not the job's is not served, credential or not
        assert httpx.get(f"{base}/fhir/Claim.000.ndjson", auth=cred).status_code == 404
    with pytest.raises(httpx.ConnectError):  # gone with the job
        httpx.get(url, auth=cred, timeout=2)


def test_each_job_gets_its_own_secret() -> None:
    a, b = new_credential(), new_credential()
    assert a != b and len(a[1]) >= 20


def test_refuses_a_non_loopback_address_unless_asked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match="--publish-allow-remote"):
        Publisher(tmp_path, "0.0.0.0")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("worker")
    with caplog.at_level(logging.WARNING, logger="etl.load.publish"):
        p = Publisher(tmp_path, "0.0.0.0", allow_remote=True, credential=new_credential())
        p.server.server_close()
    assert "beyond this machine" in caplog.text


def test_speaks_https_with_a_certificate(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    folder = _folder(tmp_path / "out")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    cred = new_credential()
    with Publisher(folder, files=["fhir/Patient.000.ndjson"], credential=cred, tls=(cert, key)) as base:
        assert base.startswith("https://127.0.0.1:")
        r = httpx.get(f"{base}/fhir/Patient.000.ndjson", auth=cred, verify=ssl.create_default_context(cafile=str(cert)))
        assert r.status_code == 200
    with pytest.raises(ConfigError, match="TLS"):
        Publisher(folder, tls=(tmp_path / "missing.pem", key))


def test_hapi_kickoff_carries_the_credential_for_the_server_to_present() -> None:
    body = HapiDialect().kickoff([ImportInput("Patient", "http://h/p.ndjson", 1)], "http://h/", credential=("u", "p"))[2]
    storage = next(p for p in body["parameter"] if p["name"] == "storageDetail")["part"]
    assert {"name": "credentialHttpBasic", "valueString": "u:p"} in storage
    body = HapiDialect().kickoff([ImportInput("Patient", "http://h/p.ndjson", 1)], "http://h/")[2]
    storage = next(p for p in body["parameter"] if p["name"] == "storageDetail")["part"]
    assert all(p["name"] != "credentialHttpBasic" for p in storage)
