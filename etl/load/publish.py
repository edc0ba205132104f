"""Serve a converted folder's NDJSON over HTTP so a FHIR server can pull it.

HAPI's ``$import`` fetches inputs over http(s) only and rejects a file unless its Content-Type is
NDJSON/JSON/text; Python's ``mimetypes`` does not know ``.ndjson``, so this server sets
``application/fhir+ndjson`` itself. It serves only ``*.ndjson`` files below the folder, read-only,
and logs no request bodies.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

NDJSON_TYPE = "application/fhir+ndjson"


def _handler(root: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "fhirflow-publish"

        def _resolve(self) -> Path | None:
            rel = unquote(urlsplit(self.path).path).lstrip("/")
            target = (root / rel).resolve()
            if target.suffix != ".ndjson" or not target.is_file() or root not in target.parents:
                return None
            return target

        def _headers(self, target: Path) -> None:
            self.send_response(200)
            self.send_header("Content-Type", NDJSON_TYPE)
            self.send_header("Content-Length", str(target.stat().st_size))
            self.end_headers()

        def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
            target = self._resolve()
            if target is None:
                self.send_error(404)
                return
            self._headers(target)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
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
    """``with Publisher(folder) as base_url:`` serves ``folder`` at ``base_url`` until exit."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = folder.resolve()
        self.server = ThreadingHTTPServer((host, port), _handler(self.folder))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fhirflow-publish", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> str:
        self._thread.start()
        return self.base_url

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
