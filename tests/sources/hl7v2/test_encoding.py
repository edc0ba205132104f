"""HL7 v2 encoding (issue 11): delimiters from MSH-1/2, escape sequences, repetitions, timestamp
precision and zone, versions 2.3-2.8, MSH-18 character sets, Z-segments; and a structure-aware
fuzz of reader and mappers (never an unhandled exception)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.config import JobConfig
from etl.errors import InputError
from etl.fhir.context import MappingContext
from etl.pipeline import convert
from etl.sources.hl7v2.model import Encoding, Message
from etl.sources.hl7v2.parse import read_messages
from etl.sources.hl7v2.to_fhir import MESSAGE_MAPPERS, to_fhir


def _patient(segments: list[str]) -> dict[str, Any]:
    return next(r for r in to_fhir(Message(segments), MappingContext("s")) if r["resourceType"] == "Patient")


def test_escape_sequences() -> None:
    enc = Encoding()

    def un(text: str) -> str:  # written with '$' for the escape character '\\'
        return enc.unescape(text.replace("$", "\\"))

    assert un("A$F$B$S$C$T$D$R$E$E$F") == "A|B^C&D~E\\F"
    assert un("caf$XC3A9$ $X41$") == "café A"  # hex data: UTF-8, else ISO 8859-1
    assert un("$XE9$") == "é"
    assert un("line1$.br$line2$.sp2$line3") == "line1\nline2\n\nline3"
    assert un("$H$bold$N$ $.in+4$$.ce$x$.fi$") == "bold x"  # formatting carries no data
    assert un("a$b") == "a\\b"  # a lone escape character stays


def test_delimiters_come_from_msh1_and_msh2() -> None:
    # Field '#', component '@', repetition '!', escape '$', subcomponent '%'.
    seg = ["MSH#@!$%#LAB#GHH#EHR#GHH#20240101120000+0000##ADT@A01#C1#P#2.5.1",
           "PID#1##A1@@@GHH@MR!B2@@@OTHER@PI##Doe@Jane$F$Ann##19800101#F"]
    patient = _patient(seg)
    assert [i["value"] for i in patient["identifier"]] == ["A1", "B2"]  # repetitions
    assert patient["name"][0] == {"family": "Doe", "given": ["Jane#Ann"]}  # \F\ is the field separator


@pytest.mark.parametrize(("ts", "fhir"), [
    ("2024", "2024"), ("202401", "2024-01"), ("20240105", "2024-01-05"),
    ("202401051230+0100", "2024-01-05T12:30:00+01:00"),
    ("20240105123045.1234-0500", "2024-01-05T12:30:45.1234-05:00"),
])
def test_timestamp_precision_and_zone_are_kept(ts: str, fhir: str) -> None:
    msg = ["MSH|^~\\&|A|B|C|D|20240101120000+0000||ADT^A01|C1|P|2.5.1", "PID|1||A1^^^GHH||Doe",
           "|".join(["PV1", "1", "I", *[""] * 16, "V1", *[""] * 24, ts])]
    enc = next(r for r in to_fhir(Message(msg), MappingContext("s")) if r["resourceType"] == "Encounter")
    assert enc["period"]["start"] == fhir


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2"])
def test_versions_2_3_to_2_8(version: str) -> None:
    # XON: the organization id is XON-3 before v2.5 and XON-10 from it (both read).
    xon = "Clinic^^C77" if version < "2.5" else "Clinic^^^^^GHH^XX^^^C77"
    msg = [f"MSH|^~\\&|A|B|C|D|20240101120000+0000||ADT^A01^ADT_A01|C1|P|{version}",
           "PID|1||A1^^^GHH^MR||Doe^Jane||19800101|F", f"PD1|||{xon}"]
    resources = to_fhir(Message(msg), MappingContext("s"))
    org = next(r for r in resources if r["resourceType"] == "Organization" and r.get("name") == "Clinic")
    assert org["identifier"][0]["value"] == "C77"


def test_msh18_character_set(tmp_path: Path) -> None:
    latin = ("MSH|^~\\&|A|B|C|D|20240101120000+0000||ADT^A01|C1|P|2.5.1||||||8859/1\r"
             "PID|1||A1^^^GHH||Jos\xe9^Ren\xe9e\r").encode("latin-1")
    gb = ("MSH|^~\\&|A|B|C|D|20240101120000+0000||ADT^A01|C2|P|2.5.1||||||GB 18030-2000\r"
          "PID|1||A2^^^GHH||\u5f20^\u4f1f\r").encode("gb18030")
    # A sender declaring 8859/1 but sending UTF-8 (common): valid UTF-8 wins.
    liar = ("MSH|^~\\&|A|B|C|D|20240101120000+0000||ADT^A01|C3|P|2.5.1||||||8859/1\r"
            "PID|1||A3^^^GHH||M\u00fcller\r").encode("utf-8")
    path = tmp_path / "charsets.hl7"
    path.write_bytes(latin + gb + liar)
    families = []
    for unit in read_messages(path):
        assert unit.record is not None
        families.append(_patient([s.text for s in unit.record.segments])["name"][0]["family"])
    assert families == ["José", "张", "Müller"]


def test_z_segments_are_kept_raw_and_counted(tmp_path: Path) -> None:
    msg = ["MSH|^~\\&|A|B|C|D|20240101120000+0000||ADT^A01|C1|P|2.5.1", "PID|1||A1^^^GHH||Doe",
           "ZPI|1|favourite^colour", "PV1|1|I", "ZBE|2|x"]
    src = tmp_path / "z.hl7"
    src.write_text("\r".join(msg) + "\r")
    summary = convert([src], tmp_path / "out", JobConfig(id_salt="z"))
    assert summary.kept == {"Z-segments": 2} and summary.to_dict()["kept"] == {"Z-segments": 2}
    assert "kept raw as extensions: 2 Z-segments" in summary.render()
    (prov,) = [orjson.loads(x) for x in (tmp_path / "out/fhir/Provenance.000.ndjson").read_bytes().splitlines()]
    raw = [e["valueString"] for e in prov["extension"] if e["url"].endswith("hl7v2-z-segment")]
    assert raw == ["ZPI|1|favourite^colour", "ZBE|2|x"]


# --- fuzz: structured messages of every supported type, fields of delimiters, escapes and junk ----

_FIELD = st.lists(st.sampled_from(list("AZaz09 ^~&\\.#-+XEFSTR:/") + ["\\F\\", "\\X4\\", "\\.sp\\", "é",
                                                                      "20240101", "2.5", "UCUM", "ISO", "NM", "SN"]),
                  max_size=12).map("".join)
_SEGMENTS = ["EVN", "PID", "PD1", "NK1", "PV1", "PV2", "ORC", "OBR", "OBX", "SPM", "RXA", "RXR", "RXE", "RXD",
             "RXO", "SCH", "AIL", "AIP", "TXA", "FT1", "DG1", "PR1", "AL1", "IAM", "IN1", "IN2", "MRG", "TQ1",
             "RF1", "PRB", "ZXX", "DB1"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mtype=st.sampled_from(sorted(MESSAGE_MAPPERS)),
       body=st.lists(st.tuples(st.sampled_from(_SEGMENTS), st.lists(_FIELD, max_size=30)), max_size=10),
       pid=st.booleans())
def test_mappers_never_raise_anything_but_input_errors(mtype: str, body: list[tuple[str, list[str]]], pid: bool) -> None:
    segments = [f"MSH|^~\\&|A|B|C|D|20240101120000+0000||{mtype}|C1|P|2.5.1"]
    if pid:
        segments.append("PID|1||A1^^^GHH^MR||Doe^Jane")
    segments += ["|".join([name, *fields]) for name, fields in body]
    try:
        msg = Message(segments)
        resources = to_fhir(msg, MappingContext("fuzz"))
    except InputError:
        return
    assert all(r.get("resourceType") and r.get("id") for r in resources)
    orjson.dumps(resources)  # serializable
