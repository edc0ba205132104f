"""SMART Backend Services, bearer and basic auth of the load client, against a local authorization
server that validates assertions as the SMART spec says (tests/load/auth_helpers.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import jwt
import pytest
from auth_helpers import SmartServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from etl.config import ImportConfig
from etl.errors import ConfigError, PermanentLoadError
from etl.load.auth import BearerAuth, SmartBackendAuth, client_auth, load_key, thumbprint, verify_setting


def _rsa_pem(tmp: Path) -> tuple[Path, dict[str, object]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp / "client.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid=thumbprint(key), alg="RS384")
    return pem, {"keys": [public]}


def _ec_jwks(tmp: Path) -> tuple[Path, dict[str, object]]:
    key = ec.generate_private_key(ec.SECP384R1())
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    private.update(kid="ec-1", alg="ES384")
    path = tmp / "client.jwks.json"
    path.write_text(json.dumps({"keys": [private]}))
    public = {k: v for k, v in private.items() if k != "d"}
    return path, {"keys": [public]}


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_rs384_pem_token_cached_and_refreshed_before_expiry(tmp_path: Path) -> None:
    pem, jwks = _rsa_pem(tmp_path)
    key, kid = load_key(pem, "RS384", None)
    clock = Clock()
    with SmartServer("fhirflow-test", jwks, expires_in=300) as smart:
        auth = SmartBackendAuth(smart.token_url, "fhirflow-test", key, kid, "RS384", clock=clock)
        with httpx.Client(auth=auth) as client:
            for _ in range(3):
                assert client.get(smart.root + "/fhir/metadata").status_code == 200
            assert smart.issued == 1 and auth.fetched == 1  # cached
            clock.now += 300 - 30  # within the refresh margin of its expiry
            assert client.get(smart.root + "/fhir/metadata").status_code == 200
            assert smart.issued == 2
            smart.tokens.clear()  # the server revokes every token: one fresh token, one retry
            assert client.get(smart.root + "/fhir/metadata").status_code == 200
            assert smart.issued == 3
    assert smart.refusals == [] and len(smart.protected_hits) == 5


def test_es384_from_jwks_and_discovery(tmp_path: Path) -> None:
    path, jwks = _ec_jwks(tmp_path)
    with SmartServer("ec-client", jwks) as smart:
        cfg = ImportConfig(fhir_url=smart.root + "/fhir", smart_client_id="ec-client", smart_key=str(path),
                           smart_alg="ES384")
        auth = client_auth(cfg)  # token URL from .well-known/smart-configuration
        assert isinstance(auth, SmartBackendAuth) and auth.token_url == smart.token_url and auth.kid == "ec-1"
        with httpx.Client(auth=auth) as client:
            assert client.get(smart.root + "/fhir/Patient").status_code == 200
    assert smart.refusals == []


def test_an_unregistered_key_is_refused_with_the_servers_words(tmp_path: Path) -> None:
    pem, _ = _rsa_pem(tmp_path)
    _, other = _rsa_pem(tmp_path / ".." )
    key, kid = load_key(pem, "RS384", None)
    with SmartServer("fhirflow-test", other) as smart:
        auth = SmartBackendAuth(smart.token_url, "fhirflow-test", key, kid)
        with httpx.Client(auth=auth) as client, pytest.raises(PermanentLoadError, match="invalid_client|assertion"):
            client.get(smart.root + "/fhir/metadata")
    assert smart.protected_hits == []


def test_static_bearer_basic_and_one_kind_only() -> None:
    assert isinstance(client_auth(ImportConfig(bearer_token="t")), BearerAuth)
    assert isinstance(client_auth(ImportConfig(basic_auth=("u", "p"))), httpx.BasicAuth)
    assert client_auth(ImportConfig()) is None
    with pytest.raises(ConfigError, match="one way"):
        client_auth(ImportConfig(bearer_token="t", basic_auth=("u", "p")))
    with pytest.raises(ConfigError, match="--smart-key"):
        client_auth(ImportConfig(smart_client_id="c"))


def test_tls_verification_is_on_unless_turned_off_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert verify_setting(ImportConfig(fhir_url="https://x")) is True
    assert verify_setting(ImportConfig(fhir_url="https://x", ca_bundle="/ca.pem")) == "/ca.pem"
    with caplog.at_level(logging.WARNING):
        assert verify_setting(ImportConfig(fhir_url="https://x", tls_verify=False)) is False
    assert "verification is OFF" in caplog.text


def test_key_algorithm_mismatch_is_a_usage_error(tmp_path: Path) -> None:
    pem, _ = _rsa_pem(tmp_path)
    with pytest.raises(ConfigError, match="does not fit ES384"):
        load_key(pem, "ES384", None)
