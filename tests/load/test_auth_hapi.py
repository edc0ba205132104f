"""SMART Backend Services for real: the project's HAPI launcher in auth mode (``hapi.sh up
--auth-jwks FILE --auth-client-id ID``: a token endpoint validating client assertions against the
registered JWKS, and an interceptor answering 401 without a valid token), and a whole ``fhirflow
import`` authenticating to it with RS384 (PEM) and ES384 (JWKS) keys."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from etl.cli import main
from etl.config import ImportConfig, JobConfig
from etl.errors import PermanentLoadError
from etl.load.auth import SmartBackendAuth, load_key, thumbprint
from etl.pipeline import convert

pytestmark = pytest.mark.hapi

ROOT = Path(__file__).resolve().parents[2]
HL7 = ROOT / "tests" / "data" / "hl7v2" / "python-hl7"
# HAPI_PORT + 1 is test_hapi_postgres.py's server: the auth-mode one defaults to HAPI_PORT + 2
AUTH_PORT = int(os.environ.get("HAPI_AUTH_PORT", str(int(os.environ.get("HAPI_PORT", "8080")) + 2)))
CLIENT = "fhirflow-auth-test"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An RSA key (PEM), an EC P-384 key (private JWKS), and the public JWKS registered with the server."""
    root = tmp_path_factory.mktemp("keys")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "rsa.pem").write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    rsa_pub = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    rsa_pub.update(kid=thumbprint(rsa_key), alg="RS384")
    ec_key = ec.generate_private_key(ec.SECP384R1())
    ec_private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key))
    ec_private.update(kid="ec-1", alg="ES384")
    (root / "ec.jwks.json").write_text(json.dumps({"keys": [ec_private]}))
    ec_pub = {k: v for k, v in ec_private.items() if k != "d"}
    (root / "registered.jwks.json").write_text(json.dumps({"keys": [rsa_pub, ec_pub]}))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "unregistered.pem").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return {"rsa": root / "rsa.pem", "ec": root / "ec.jwks.json", "jwks": root / "registered.jwks.json",
            "unregistered": root / "unregistered.pem", "root": root}


@pytest.fixture(scope="module")
def secured_hapi(keys: dict[str, Path]) -> Iterator[str]:
    script = ROOT / "docker" / "hapi" / "hapi.sh"
    data = keys["root"] / "hapi-data"
    proc = subprocess.run(["bash", str(script), "up", "--port", str(AUTH_PORT), "--data", str(data),
                           "--auth-jwks", str(keys["jwks"]), "--auth-client-id", CLIENT],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        subprocess.run(["bash", str(script), "down", "--port", str(AUTH_PORT)], capture_output=True, timeout=120)
        pytest.fail(f"could not start HAPI in auth mode on port {AUTH_PORT}:\n{proc.stderr[-3000:]}")
    try:
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "down", "--port", str(AUTH_PORT)], capture_output=True, timeout=120)


def test_requests_without_a_valid_token_are_refused(secured_hapi: str, keys: dict[str, Path]) -> None:
    assert httpx.get(f"{secured_hapi}/metadata", timeout=30).status_code == 401
    assert httpx.get(f"{secured_hapi}/Patient", headers={"Authorization": "Bearer made-up"}, timeout=30).status_code == 401
    discovery = httpx.get(f"{secured_hapi}/.well-known/smart-configuration", timeout=30).json()
    key, kid = load_key(keys["unregistered"], "RS384", None)
    auth = SmartBackendAuth(discovery["token_endpoint"], CLIENT, key, kid)
    with httpx.Client(auth=auth, timeout=30) as client, pytest.raises(PermanentLoadError, match="no registered key"):
        client.get(f"{secured_hapi}/metadata")
    _, registered_kid = load_key(keys["rsa"], "RS384", None)
    spoof = SmartBackendAuth(discovery["token_endpoint"], CLIENT, key, registered_kid)  # a registered kid, another key
    with httpx.Client(auth=spoof, timeout=30) as client, pytest.raises(PermanentLoadError, match="does not verify"):
        client.get(f"{secured_hapi}/metadata")
    key, kid = load_key(keys["rsa"], "RS384", None)
    wrong_client = SmartBackendAuth(discovery["token_endpoint"], "someone-else", key, kid)
    with httpx.Client(auth=wrong_client, timeout=30) as client, pytest.raises(PermanentLoadError, match="iss and sub"):
        client.get(f"{secured_hapi}/metadata")


def test_es384_token_from_a_jwks_key(secured_hapi: str, keys: dict[str, Path]) -> None:
    discovery = httpx.get(f"{secured_hapi}/.well-known/smart-configuration", timeout=30).json()
    key, kid = load_key(keys["ec"], "ES384", None)
    auth = SmartBackendAuth(discovery["token_endpoint"], CLIENT, key, kid, "ES384")
    with httpx.Client(auth=auth, timeout=30) as client:
        assert client.get(f"{secured_hapi}/metadata").status_code == 200
        assert client.get(f"{secured_hapi}/Patient?_summary=count").status_code == 200
    assert auth.fetched == 1


def test_import_with_smart_backend_services(secured_hapi: str, keys: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    convert([HL7 / "sample_batch1.hl7"], out, JobConfig(id_salt="auth-hapi"))
    code = main(["import", str(out), "--fhir-url", secured_hapi, "--smart-client-id", CLIENT,
                 "--smart-key", str(keys["rsa"]), "--max-wait", "2", "--state", str(tmp_path / "state.db")])
    assert code == 0
    cfg = JobConfig(load=ImportConfig(fhir_url=secured_hapi, smart_client_id=CLIENT, smart_key=str(keys["ec"]),
                                      smart_alg="ES384", max_retry_after_s=2))
    from etl.load.resume import make_client

    with make_client(cfg.load) as client:
        total = client.get(f"{secured_hapi}/Patient", params={"_summary": "count"}).json()["total"]
    assert total >= 1
