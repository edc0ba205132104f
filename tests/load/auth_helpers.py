"""A SMART Backend Services authorization server and a protected endpoint, on 127.0.0.1, for tests.

The token endpoint follows https://hl7.org/fhir/smart-app-launch/backend-services.html ("Validating
the authentication JWT"): ``grant_type=client_credentials``, the jwt-bearer assertion type, a JWT
whose ``kid`` is in the client's registered JWKS and whose signature verifies with it, ``iss`` =
``sub`` = the registered client id, ``aud`` = this token URL, ``exp`` in the future and at most five
minutes ahead, a ``jti`` not seen before. Anything else is ``400 {"error": "invalid_client"}``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt


class SmartServer:
    def __init__(self, client_id: str, jwks: dict[str, Any], expires_in: int = 300) -> None:
        self.client_id, self.jwks, self.expires_in = client_id, jwks, expires_in
        self.tokens: set[str] = set()
        self.jtis: set[str] = set()
        self.issued = 0
        self.refusals: list[str] = []
        self.protected_hits: list[str] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                if self.path == "/token":
                    ok, body = srv.token(form)
                    return self._send(200 if ok else 400, body)
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/fhir/.well-known/smart-configuration":
                    return self._send(200, {"token_endpoint": srv.token_url,
                                            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                                            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"]})
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in srv.tokens:
                    return self._send(401, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "login", "diagnostics": "a valid bearer token is required"}]})
                srv.protected_hits.append(self.path)
                return self._send(200, {"resourceType": "CapabilityStatement"})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self.server.server_address[:2]
        self.root = f"http://{host!s}:{port}"
        self.token_url = self.root + "/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def token(self, form: dict[str, list[str]]) -> tuple[bool, dict[str, Any]]:
        def refuse(why: str) -> tuple[bool, dict[str, Any]]:
            self.refusals.append(why)
            return False, {"error": "invalid_client", "error_description": why}

        if form.get("grant_type") != ["client_credentials"]:
            return refuse("grant_type")
        if form.get("client_assertion_type") != ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]:
            return refuse("client_assertion_type")
        assertion = form.get("client_assertion", [""])[0]
        try:
            header = jwt.get_unverified_header(assertion)
            jwk = next(k for k in self.jwks["keys"] if k.get("kid") == header.get("kid"))
            key = jwt.PyJWK(jwk, header["alg"])
            claims = jwt.decode(assertion, key.key, algorithms=[header["alg"]], audience=self.token_url,
                                issuer=self.client_id, options={"require": ["exp", "jti", "sub", "iss", "aud"]})
        except (StopIteration, jwt.PyJWTError, KeyError) as exc:
            return refuse(f"assertion: {type(exc).__name__}")
        if claims["sub"] != self.client_id or claims["exp"] > time.time() + 300 + 5:
            return refuse("sub/exp")
        if claims["jti"] in self.jtis:
            return refuse("jti replayed")
        self.jtis.add(claims["jti"])
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        self.issued += 1
        return True, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in,
                      "scope": form.get("scope", [""])[0]}

    def __enter__(self) -> SmartServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
