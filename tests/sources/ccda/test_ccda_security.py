"""Hardened parsing: no external entities, no entity bombs, bounded size, clear rejections."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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


def _bomb(tmp_path: Path) -> Path:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                                      for i in range(1, 10)]
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE ClinicalDocument [' + "".join(ents) + ']>\n'
                    '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>')
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


def test_entity_expansion_bomb_is_rejected(tmp_path: Path) -> None:
    resources, errors = convert_file(_bomb(tmp_path))
    assert resources == []
    assert len(errors) == 1 and errors[0].error.code in ("security", "structure")
    assert "lollol" not in str(errors[0].error)


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
