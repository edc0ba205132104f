"""Serve one load job's NDJSON over HTTP(S) so a FHIR server can pull it.

The files are PHI, so the publisher is closed by default:

- it binds loopback (127.0.0.1 / ::1) unless the caller passes ``allow_remote=True`` (CLI
  ``--publish-allow-remote``, env ``FHIRFLOW_PUBLISH_ALLOW_REMOTE=1``), and then it logs a warning;
- it serves only the files it is given (the job's manifest entries), never anything else below the
  folder, and only for as long as the job's ``with`` block lasts;
- with ``credential`` set (the importer sets a random one per job) every request must carry it as
  HTTP Basic credentials (HAPI's ``storageDetail.credentialHttpBasic`` sends them), compared in
  constant time; others get 401;
- with ``tls=(certfile, keyfile)`` it speaks HTTPS.

HAPI's ``$import`` rejects a file unless its Content-Type is NDJSON/JSON/text; Python's ``mimetypes``
does not know ``.ndjson``, so this server sets ``application/fhir+ndjson`` itself. It logs no request
bodies and no credentials.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import secrets
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from etl.errors import ConfigError

log = logging.getLogger(__name__)

NDJSON_TYPE = "application/fhir+ndjson"


def new_credential() -> tuple[str, str]:
    """A random (user, password) pair for one job: 128 bits of secret, URL- and header-safe."""
    return "fhirflow-" + secrets.token_hex(4), secrets.token_urlsafe(16)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _handler(root: Path, files: frozenset[Path] | None, expected: bytes | None,
             documents: dict[str, bytes] | None = None) -> type[BaseHTTPRequestHandler]:
    docs = documents if documents is not None else {}  # filled once the base URL is known

    class Handler(BaseHTTPRequestHandler):
        server_version = "fhirflow-publish"

        def _authorized(self) -> bool:
            if expected is None:
                return True
            given = self.headers.get("Authorization", "").encode("latin-1", "replace")
            if hmac.compare_digest(given, expected):
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="fhirflow-publish"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def _resolve(self) -> Path | None:
            rel = unquote(urlsplit(self.path).path).lstrip("/")
            target = (root / rel).resolve()
            if target.suffix != ".ndjson" or not target.is_file() or root not in target.parents:
                return None
            if files is not None and target not in files:
                return None
            return target

        def _headers(self, target: Path) -> None:
            self.send_response(200)
            self.send_header("Content-Type", NDJSON_TYPE)
            self.send_header("Content-Length", str(target.stat().st_size))
            self.end_headers()

        def _document(self, head: bool) -> bool:
            """Serve one of the job's generated documents (a Bulk Data manifest); False if none."""
            body = docs.get(unquote(urlsplit(self.path).path).lstrip("/"))
            if body is None:
                return False
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return True

        def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
            if not self._authorized() or self._document(head=True):
                return
            target = self._resolve()
            if target is None:
                self.send_error(404)
                return
            self._headers(target)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if not self._authorized() or self._document(head=False):
                return
            target = self._resolve()
            if target is None:
                self.send_error(404)
                return
            self._headers(target)
            with open(target, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("publish: " + format, *args)

    return Handler


class Publisher:
    """``with Publisher(folder, files=[...], credential=new_credential()) as base_url:`` serves those
    files of ``folder`` at ``base_url`` until exit.

    ``files``: paths relative to ``folder`` (None serves every ``*.ndjson`` below it, for tests and
    ad-hoc use). ``credential``: (user, password) every request must present as HTTP Basic.
    ``documents``: generated bodies served at ``/<name>`` (the job's Bulk Data manifest), same guard.
    """

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0, *,
                 files: Iterable[str] | None = None, credential: tuple[str, str] | None = None,
                 allow_remote: bool = False, tls: tuple[Path, Path] | None = None,
                 documents: dict[str, bytes] | None = None) -> None:
        if not is_loopback(host):
            if not allow_remote:
                raise ConfigError(
                    f"refusing to serve NDJSON (PHI) on {host}: the publisher binds loopback only; pass "
                    "--publish-allow-remote (env FHIRFLOW_PUBLISH_ALLOW_REMOTE=1) when the FHIR server must "
                    "reach it over a network, and prefer TLS (--publish-cert/--publish-key)")
            log.warning("the NDJSON publisher binds %s, reachable beyond this machine for the job's duration%s",
                        host, "" if credential else ", without credentials")
        self.folder = folder.resolve()
        allowed = None if files is None else frozenset((self.folder / f).resolve() for f in files)
        expected = None
        if credential is not None:
            expected = b"Basic " + base64.b64encode(f"{credential[0]}:{credential[1]}".encode())
        self.server = ThreadingHTTPServer((host, port), _handler(self.folder, allowed, expected, documents))
        self.scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                context.load_cert_chain(str(tls[0]), str(tls[1]))
            except (OSError, ssl.SSLError) as exc:
                self.server.server_close()
                raise ConfigError(f"cannot use the publisher's TLS certificate {tls[0]} / key {tls[1]}: {exc}") from exc
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fhirflow-publish", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        return self.base_url

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
