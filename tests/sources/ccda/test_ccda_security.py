"""Hardened parsing: no external entities, no entity bombs, bounded size, clear rejections."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ccda_helpers import INPUTS, SALT, convert_file

from etl.config import JobConfig
from etl.pipeline import convert
from etl.sources.ccda.source import CcdaSource

SECRET = "TOP-SECRET-7f3a9c"


def _xxe(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    doc = INPUTS[0].read_text(encoding="utf-8")
    head, _, body = doc.partition("<ClinicalDocument")
    head = head.split("?>", 1)[0] + "?>\n" if head.startswith("<?xml") else ""
    dtd = f'<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    body = body.replace("<title>", "<title>&xxe;", 1)
    path = tmp_path / "xxe.xml"
    path.write_text(head + dtd + "<ClinicalDocument" + body, encoding="utf-8")
    return path


BOMB_IN_TEXT = '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>'
# libxml2 2.14 stops on this one before handing out any element: the DOCTYPE must be refused unseen.
BOMB_IN_ROOT_ATTRIBUTE = '<ClinicalDocument xmlns="urn:hl7-org:v3" classCode="&lol9;"/>'


def _bomb(tmp_path: Path, body: str = BOMB_IN_TEXT) -> Path:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                                      for i in range(1, 10)]
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?>\n<!-- a comment first -->\n<!DOCTYPE ClinicalDocument ['
                    + "".join(ents) + ']>\n' + body)
    return path


def test_external_entity_is_rejected_and_never_read(tmp_path: Path) -> None:
    path = _xxe(tmp_path)
    resources, errors = convert_file(path)
    assert resources == []
    assert len(errors) == 1
    assert errors[0].error.code == "security"
    assert "DTD" in errors[0].error.message
    out = tmp_path / "out"
    summary = convert([path], out, JobConfig(id_salt=SALT))
    assert summary.errors == 1
    for f in out.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def _no_secret_in(out: Path, *needles: bytes) -> None:
    files = [f for f in out.rglob("*") if f.is_file()]
    assert files  # the run wrote its error record and manifest
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, (f, needle)


@pytest.mark.parametrize("body", [BOMB_IN_TEXT, BOMB_IN_ROOT_ATTRIBUTE], ids=["text", "root-attribute"])
def test_entity_expansion_bomb_is_rejected(tmp_path: Path, body: str) -> None:
    resources, errors = convert_file(_bomb(tmp_path, body))
    assert resources == []
    assert len(errors) == 1 and errors[0].error.code == "security"
    assert "lollol" not in str(errors[0].error)
    out = tmp_path / "out"
    summary = convert([_bomb(tmp_path, body)], out, JobConfig(id_salt=SALT))
    assert summary.errors == 1 and sum(summary.resources.values()) == 0
    _no_secret_in(out, b"lollol")


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request: proof that the parser never fetched anything."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            body = f'<!ENTITY leak "{SECRET}">'.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def _with_prolog(tmp_path: Path, name: str, doctype: str, use: str) -> Path:
    body = INPUTS[0].read_text(encoding="utf-8").partition("<ClinicalDocument")[2]
    path = tmp_path / name
    path.write_text('<?xml version="1.0"?>\n' + doctype + "\n<ClinicalDocument" + body.replace("<title>", "<title>" + use, 1),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["external-dtd-file", "external-dtd-http", "parameter-entity-http", "entity-http"])
def test_external_dtd_and_entities_are_never_fetched(tmp_path: Path, listener: tuple[str, list[str]],
                                                     kind: str) -> None:
    url, hits = listener
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak "{SECRET}">')
    doctype, use = {
        "external-dtd-file": (f'<!DOCTYPE ClinicalDocument SYSTEM "file://{dtd}">', "&leak;"),
        "external-dtd-http": (f'<!DOCTYPE ClinicalDocument SYSTEM "{url}/evil.dtd">', "&leak;"),
        "parameter-entity-http": (f'<!DOCTYPE ClinicalDocument [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>', "&leak;"),
        "entity-http": (f'<!DOCTYPE ClinicalDocument [<!ENTITY leak SYSTEM "{url}/leak.txt">]>', "&leak;"),
    }[kind]
    path = _with_prolog(tmp_path, f"{kind}.xml", doctype, use)
    resources, errors = convert_file(path)
    assert resources == [] and len(errors) == 1
    assert errors[0].error.code in ("security", "structure"), errors[0].error
    out = tmp_path / "out"
    summary = convert([path], out, JobConfig(id_salt=SALT))
    assert summary.errors == 1 and sum(summary.resources.values()) == 0
    _no_secret_in(out, SECRET.encode())
    assert hits == []  # nothing was fetched over the network


def test_xinclude_is_not_processed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    inc = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://{secret}" parse="text"/>'
    path = _with_prolog(tmp_path, "xinclude.xml", "", inc)
    out = tmp_path / "out"
    convert([path], out, JobConfig(id_salt=SALT))
    _no_secret_in(out, SECRET.encode())


def test_deeply_nested_document_is_rejected_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "deep.xml"
    depth = 100_000
    path.write_text('<ClinicalDocument xmlns="urn:hl7-org:v3">' + "<x>" * depth + "</x>" * depth + "</ClinicalDocument>")
    resources, errors = convert_file(path)
    assert resources == [] and len(errors) == 1
    assert errors[0].error.code in ("structure", "too-long", "required"), errors[0].error


def test_document_over_the_size_limit_is_rejected(tmp_path: Path) -> None:
    @dataclasses.dataclass(frozen=True)
    class SmallLimit(JobConfig):
        ccda_max_bytes: int = 1000

    resources, errors = convert_file(INPUTS[0], SmallLimit(id_salt=SALT))
    assert resources == [] and len(errors) == 1
    assert errors[0].error.code == "too-long"
    assert "ccda_max_bytes" in errors[0].error.message


def test_sniff() -> None:
    src = CcdaSource()
    assert src.sniff(INPUTS[0].read_bytes()[:4096])
    assert src.sniff(b'\xef\xbb\xbf<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3">')
    assert not src.sniff(b"MSH|^~\\&|")
    assert not src.sniff(b'<?xml version="1.0"?><Bundle xmlns="http://hl7.org/fhir">')


def test_stream_is_counted_while_parsing() -> None:
    """The byte count is enforced by the stream itself too (a file that grows after the size check)."""
    import io

    from etl.sources.ccda.parse import _documents, _Limited

    units = list(_documents(_Limited(io.BytesIO(INPUTS[0].read_bytes()), 4096), "grown.xml", 4096))
    assert len(units) == 1 and units[0].record is None
    assert units[0].error is not None and units[0].error.code == "too-long"
