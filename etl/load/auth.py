"""How the load authenticates to the FHIR server: SMART Backend Services, a static bearer token,
HTTP Basic, or (AWS HealthLake) AWS Signature Version 4; and whether it verifies the server's TLS
certificate.

SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html, "Obtaining an
access token"): the client POSTs ``grant_type=client_credentials``, ``scope``,
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and
``client_assertion``, a JWT signed with its private key (RS384 or ES384; header ``alg``, ``kid``,
``typ: JWT``; claims ``iss`` = ``sub`` = client id, ``aud`` = the token URL, ``exp`` at most five
minutes ahead, a unique ``jti``) to the token endpoint, and gets ``{access_token, token_type:
bearer, expires_in, scope}``. The token is cached and fetched again ``refresh_margin_s`` before it
expires, and once more when the server answers 401 (it may have revoked it). The key comes from a
PEM file (``kid``: given, else the key's RFC 7638 thumbprint) or a JWKS file holding private keys
(the one with the given ``kid``, else the first that fits the algorithm). Tokens and keys are never
logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from etl.config import ImportConfig
from etl.errors import ConfigError, PermanentLoadError, TransientLoadError

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(key: Any) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of a private or public RSA / EC key."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        members = {"e": _b64(nums.e), "kty": "RSA", "n": _b64(nums.n)}
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        nums_ec = pub.public_numbers()
        size = (pub.curve.key_size + 7) // 8

        def coord(v: int) -> str:
            return base64.urlsafe_b64encode(v.to_bytes(size, "big")).rstrip(b"=").decode()

        members = {"crv": {384: "P-384", 256: "P-256", 521: "P-521"}[pub.curve.key_size], "kty": "EC",
                   "x": coord(nums_ec.x), "y": coord(nums_ec.y)}
    else:
        raise ConfigError("SMART Backend Services keys must be RSA (RS384) or EC P-384 (ES384)")
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_key(path: Path, alg: str, kid: str | None) -> tuple[Any, str]:
    """(private key, kid) from a PEM file or a JWKS file of private keys."""
    if alg not in ALGORITHMS:
        raise ConfigError(f"--smart-alg must be one of {', '.join(ALGORITHMS)}, not {alg!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the SMART private key {path}: {exc}") from exc
    if data.lstrip().startswith(b"{"):
        keys = json.loads(data).get("keys", [])
        for jwk in keys:
            if kid and jwk.get("kid") != kid:
                continue
            if jwk.get("alg", alg) != alg or "d" not in jwk:
                continue
            return jwt.PyJWK(jwk, alg).key, jwk.get("kid") or kid or ""
        raise ConfigError(f"{path}: no private {alg} key{f' with kid {kid}' if kid else ''} in the JWKS")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if alg == "RS384" and not isinstance(key, rsa.RSAPrivateKey) or alg == "ES384" and not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path}: the key does not fit {alg}")
    return key, kid or thumbprint(key)


class SmartBackendAuth(httpx.Auth):
    """httpx auth that fetches, caches and refreshes a SMART Backend Services access token."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, key: Any, kid: str, alg: str = "RS384",
                 scope: str = "system/*.read system/*.write", *, refresh_margin_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.token_url, self.client_id, self.key, self.kid, self.alg = token_url, client_id, key, kid, alg
        self.scope, self.refresh_margin_s, self.clock = scope, refresh_margin_s, clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # how many tokens this auth obtained (tests, metrics)

    def assertion(self) -> str:
        issued = int(time.time())  # wall clock: the server checks exp against its own
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_url, "iat": issued,
                  "exp": issued + 300, "jti": secrets.token_urlsafe(16)}
        return jwt.encode(claims, self.key, algorithm=self.alg, headers={"kid": self.kid, "typ": "JWT"})

    def _token_request(self) -> httpx.Request:
        return httpx.Request("POST", self.token_url, headers={"Accept": "application/json"}, data={
            "grant_type": "client_credentials", "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion()})

    def _take(self, response: httpx.Response) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientLoadError(f"SMART token endpoint {self.token_url}: HTTP {response.status_code}",
                                     status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("access_token"):
            said = body.get("error_description") or body.get("error") or response.text[:200]
            raise PermanentLoadError(f"SMART token endpoint {self.token_url} refused client {self.client_id}: "
                                     f"HTTP {response.status_code}: {said}", status=response.status_code)
        self._token = str(body["access_token"])
        self._expires = self.clock() + float(body.get("expires_in", 300))
        self.fetched += 1
        log.info("SMART access token obtained for client %s (expires in %ss)", self.client_id, body.get("expires_in"))

    def _stale(self) -> bool:
        return self._token is None or self.clock() >= self._expires - self.refresh_margin_s

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._stale():
            self._take((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one fresh token, one retry
            self._take((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


class BearerAuth(httpx.Auth):
    """A static bearer token (``--bearer-token`` / env ``FHIRFLOW_BEARER_TOKEN``)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class AwsSigV4Auth(httpx.Auth):
    """AWS Signature Version 4 on every request (AWS HealthLake), with botocore's credential chain
    (environment, profile, instance role). botocore comes with the ``s3`` extra."""

    requires_request_body = True

    def __init__(self, region: str, service: str = "healthlake") -> None:
        try:
            import botocore.session
        except ImportError as exc:
            raise ConfigError("AWS request signing needs botocore: `pip install fhirflow[s3]`") from exc
        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise ConfigError("no AWS credentials found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or a role)")
        self.credentials, self.region, self.service = credentials, region, service

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        aws = AWSRequest(method=request.method, url=str(request.url), data=request.content,
                         headers={k: v for k, v in request.headers.items() if k.lower() in ("content-type", "x-amz-target")})
        SigV4Auth(self.credentials.get_frozen_credentials(), self.service, self.region).add_auth(aws)
        for key in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if key in aws.headers:
                request.headers[key] = aws.headers[key]
        yield request


def smart_token_url(fhir_url: str, verify: bool | ssl.SSLContext | str = True) -> str:
    """The token endpoint from ``[base]/.well-known/smart-configuration`` (SMART discovery)."""
    url = f"{fhir_url.rstrip('/')}/.well-known/smart-configuration"
    try:
        response = httpx.get(url, headers={"Accept": "application/json"}, timeout=30.0, verify=verify)
        endpoint = response.json().get("token_endpoint") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"SMART discovery at {url} failed ({exc}): pass --smart-token-url") from exc
    if not endpoint:
        raise ConfigError(f"{url} names no token_endpoint: pass --smart-token-url")
    return str(endpoint)


def verify_setting(cfg: ImportConfig) -> bool | str:
    """httpx ``verify``: a CA bundle path, True, or False (only when asked, with a warning)."""
    if not cfg.tls_verify:
        log.warning("TLS certificate verification is OFF for %s: anyone on the path can read the load "
                    "and its credentials", cfg.fhir_url)
        return False
    return cfg.ca_bundle or True


def client_auth(cfg: ImportConfig) -> httpx.Auth | None:
    """The auth of the job's client, from the config (one kind at a time)."""
    kinds = [k for k, on in (("SMART", cfg.smart_client_id), ("bearer", cfg.bearer_token),
                             ("basic", cfg.basic_auth)) if on]
    if len(kinds) > 1:
        raise ConfigError(f"choose one way to authenticate, not {' and '.join(kinds)}")
    if cfg.smart_client_id:
        if not cfg.smart_key:
            raise ConfigError("--smart-client-id needs --smart-key (a PEM private key or a JWKS file)")
        key, kid = load_key(Path(cfg.smart_key), cfg.smart_alg, cfg.smart_kid)
        token_url = cfg.smart_token_url or smart_token_url(cfg.fhir_url, verify_setting(cfg))
        return SmartBackendAuth(token_url, cfg.smart_client_id, key, kid, cfg.smart_alg, cfg.smart_scope)
    if cfg.bearer_token:
        return BearerAuth(cfg.bearer_token)
    if cfg.basic_auth:
        return httpx.BasicAuth(*cfg.basic_auth)
    if cfg.dialect == "healthlake":
        from etl.load.dialects.healthlake import parse_endpoint

        return AwsSigV4Auth(parse_endpoint(cfg.fhir_url)[1])
    return None
