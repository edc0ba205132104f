"""A real HTTP server on 127.0.0.1 that replays a recorded vendor exchange (tests/data/load/).

Requests must arrive in the recorded order (method and path, query included); each gets its
recorded answer, with ``{base}`` / ``{server}`` filled in. ``files`` are served as NDJSON at any
time, and so are verification searches (``POST …/<Type>/_search``: the count of the ids asked).
A ``fetch_manifest`` exchange makes the server behave like a Data Consumer: it GETs the submitted
``manifestUrl`` and every file it lists with the ``fileRequestHeader`` given, and records what it got.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx

DATA = Path(__file__).resolve().parents[1] / "data" / "load"


class Replay:
    def __init__(self, dialect: str, scenario: str) -> None:
        self.recording = json.loads((DATA / dialect / f"{scenario}.json").read_text())
        self.exchanges = list(self.recording["exchanges"])
        self.files: dict[str, str] = self.recording.get("files", {})
        self.seen: list[dict[str, Any]] = []
        self.mismatches: list[str] = []
        self.pulled: list[tuple[str, int]] = []  # (url, status) the "server" fetched from the publisher
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = unquote(self.path)
                if path.endswith("/_search"):
                    ids = parse_qs(body.decode()).get("_id", [""])[0].split(",")
                    return self._send(200, {"Content-Type": "application/fhir+json"},
                                      {"resourceType": "Bundle", "type": "searchset", "total": len([i for i in ids if i])})
                if path in replay.files:
                    return self._send(200, {"Content-Type": "application/fhir+ndjson"}, replay.files[path].encode())
                replay.seen.append({"method": self.command, "path": path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": json.loads(body) if body else None})
                if not replay.exchanges:
                    replay.mismatches.append(f"unexpected {self.command} {path}")
                    return self._send(599, {}, b"")
                expected = replay.exchanges.pop(0)
                want = expected["request"]
                if (want["method"], want["path"]) != (self.command, path):
                    replay.mismatches.append(f"expected {want['method']} {want['path']}, got {self.command} {path}")
                    return self._send(599, {}, b"")
                if expected.get("fetch_manifest"):
                    replay.pull(json.loads(body))
                answer = expected["response"]
                self._send(answer["status"], answer.get("headers", {}), answer.get("body"))

            def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
                raw = body if isinstance(body, bytes) else (replay.fill(json.dumps(body)).encode() if body is not None else b"")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, replay.fill(v))
                if body is not None and "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _answer  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        host, port = self.server.server_address[:2]
        self.root = f"http://{host!s}:{port}"
        self.base = self.root + self.recording.get("fhir_path", "/fhir")

    def fill(self, text: str) -> str:
        return text.replace("{base}", self.base).replace("{server}", self.root)

    def pull(self, params: dict[str, Any]) -> None:
        values = {p["name"]: p for p in params.get("parameter", [])}
        manifest_url = values["manifestUrl"]["valueString"]
        headers = {}
        if "fileRequestHeader" in values:
            parts = {p["name"]: p["valueString"] for p in values["fileRequestHeader"]["part"]}
            headers[parts["headerName"]] = parts["headerValue"]
        without = httpx.get(manifest_url)
        self.pulled.append((manifest_url + " (no header)", without.status_code))
        response = httpx.get(manifest_url, headers=headers)
        self.pulled.append((manifest_url, response.status_code))
        if response.status_code == 200:
            for item in response.json()["output"]:
                got = httpx.get(item["url"], headers=headers)
                self.pulled.append((item["url"], got.status_code))

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
