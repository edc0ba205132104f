"""Builders of small X12 5010 files for the claim-level tests (SE01 counted), and a converter that
reads the output folder back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from etl.config import JobConfig
from etl.pipeline import convert
from etl.summary import RunSummary

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*{control}*0*T*:"
SOURCE_EXCERPT = "https://fhirflow.dev/fhir/StructureDefinition/source-excerpt"


def interchange(gs: str, st: str, body: list[str], control: str = "000000001", se01: int | None = None) -> bytes:
    """ISA…IEA around one transaction set of ``body`` segments (SE01 counted unless given)."""
    segs = [ISA.format(control=control), gs, st, *body]
    n = len(body) + 2 if se01 is None else se01
    segs += [f"SE*{n}*0001", "GE*1*1", f"IEA*1*{control}"]
    return ("~\n".join(segs) + "~\n").encode()


def claim_837(clm01: str, amount: str = "100", lines: tuple[str, ...] = ("100",), clm05: str = "11:B:1") -> list[str]:
    segs = [f"CLM*{clm01}*{amount}***{clm05}*Y*A*Y*Y", "HI*ABK:E119"]
    for k, charge in enumerate(lines, 1):
        segs += [f"LX*{k}", f"SV1*HC:99213*{charge}*UN*1***1", "DTP*472*D8*20240102"]
    return segs


def subscriber_837(member: str, claims: list[list[str]], hl: int = 2, name: str = "DOE*JANE") -> list[str]:
    segs = [f"HL*{hl}*1*22*0", "SBR*P*18*GRP******CI", f"NM1*IL*1*{name}****MI*{member}", "DMG*D8*19800101*F",
            "NM1*PR*2*PAYER*****PI*P1"]
    return segs + [s for c in claims for s in c]


def file_837(*subscribers: list[str], control: str = "000000001", se01: int | None = None) -> bytes:
    body = ["BHT*0019*00*1*20240101*1200*CH", "NM1*41*2*SUBMITTER*****46*SUB1", "NM1*40*2*RECEIVER*****46*RCV1",
            "HL*1**20*1", "NM1*85*2*CLINIC*****XX*1234567893", "N3*1 MAIN ST", "N4*TOWN*MD*20705", "REF*EI*123456789"]
    body += [s for sub in subscribers for s in sub]
    return interchange("GS*HC*SENDER*RECEIVER*20240101*1200*1*X*005010X222A1", "ST*837*0001*005010X222A1", body,
                       control, se01)


def run(tmp_path: Path, data: bytes, name: str = "in.x12", **config: Any) -> tuple[RunSummary, dict[str, list[Any]]]:
    """Convert one file; (summary, {"errors": [...], "<Type>": [...]}) read back from the output."""
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / f"out-{name}"
    summary = convert([src], out, JobConfig(parquet=False, **config))
    found: dict[str, list[Any]] = {}
    for folder in ("fhir", "errors", "warnings"):
        for p in (out / folder).glob("*.ndjson"):
            key = p.name.split(".")[0] if folder == "fhir" else folder
            found.setdefault(key, []).extend(orjson.loads(x) for x in p.read_bytes().splitlines())
    return summary, found


def quoted(record: dict[str, Any]) -> dict[str, str]:
    """The source values an error record quotes (issue extension ``source-excerpt``: spec path -> value)."""
    return {part["url"]: part["valueString"] for issue in record["issue"] for ext in issue.get("extension", [])
            if ext["url"] == SOURCE_EXCERPT for part in ext["extension"]}


def claim_ids(found: dict[str, list[Any]]) -> list[str]:
    return sorted(c["identifier"][0]["value"] for c in found.get("Claim", []))


def file_835(clps: list[list[str]], bpr02: str, plb: str | None = None) -> bytes:
    body = [f"BPR*I*{bpr02}*C*CHK************20240105", "TRN*1*CHK1*1559123456", "N1*PR*PAYER",
            "N1*PE*CLINIC*FI*599944521", "LX*1"]
    body += [s for c in clps for s in c]
    if plb:
        body.append(plb)
    return interchange("GS*HP*SENDER*RECEIVER*20240105*1200*1*X*005010X221A1", "ST*835*0001", body)


def clp(pcn: str, paid: str, member: str = "M1") -> list[str]:
    return [f"CLP*{pcn}*1*{paid}*{paid}**12*ICN{pcn}", f"NM1*QC*1*DOE*JANE****MI*{member}",
            f"SVC*HC:99213*{paid}*{paid}**1", "DTM*472*20240102"]


def file_834(members: list[list[str]]) -> bytes:
    body = ["BGN*00*REF1*20260401*0900****2", "N1*P5*SPONSOR*FI*234567891", "N1*IN*PLAN*FI*876543219"]
    body += [s for m in members for s in m]
    return interchange("GS*BE*SENDER*RECEIVER*20260401*0900*1*X*005010X220A1", "ST*834*0001*005010X220A1", body)


def member(sub: str, ref0f: str, name: str | None = "SMITH*ROBERT", rel: str = "18") -> list[str]:
    segs = [f"INS*{sub}*{rel}*021*XN*A*C**FT", f"REF*0F*{ref0f}"]
    if name:
        segs += [f"NM1*IL*1*{name}****34*000000002", "DMG*D8*19750820*M"]
    return segs + ["HD*021**PPO**FAM", "DTP*348*D8*20260401"]
