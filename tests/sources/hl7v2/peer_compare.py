"""fhirflow's HL7 v2 output against Microsoft FHIR-Converter's expected bundles, by meaning.

For every input under tests/data/hl7v2/fhir-converter with an ``expected/<name>-expected.json``:
resource types and counts side by side (MessageHeader aside: a bulk load has no message envelope),
and the key fields of issue 11 (Patient identifier/name/birthDate/gender/race, Encounter
class/status/period/location, Observation code/value/unit, DiagnosticReport code/result count, and
the field the message type is about: the vaccine of a VXU, the medication of an RDE/RDS, the
allergen of an A60/AL1, the merged identifier of an A40). Ids are never compared.

Run as a script to print the table: ``python tests/sources/hl7v2/peer_compare.py``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "hl7v2" / "fhir-converter"
Json = dict[str, Any]
IGNORED_TYPES = {"MessageHeader"}


def _codes(cc: Any) -> set[str]:
    if not isinstance(cc, dict):
        return set()
    return {str(c.get("code")) for c in cc.get("coding", []) if c.get("code")}


def _by_type(resources: list[Json]) -> dict[str, list[Json]]:
    out: dict[str, list[Json]] = {}
    for r in resources:
        out.setdefault(r["resourceType"], []).append(r)
    return out


def _race(p: Json) -> set[str]:
    out: set[str] = set()
    for ext in p.get("extension", []):
        if ext.get("url", "").endswith("us-core-race"):
            out |= {str(e["valueCoding"]["code"]) for e in ext.get("extension", []) if "valueCoding" in e}
    return out


def _utc(value: str) -> str | None:
    """A dateTime with an offset as its UTC instant (FHIR-Converter writes times in its host's zone)."""
    from datetime import UTC, datetime

    if not value:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    except ValueError:
        return value


def _value(o: Json) -> str | None:
    if "valueQuantity" in o:
        return str(float(o["valueQuantity"].get("value", 0)))
    if "valueString" in o:
        return " ".join(str(o["valueString"]).split())
    if "valueCodeableConcept" in o:
        return ",".join(sorted(_codes(o["valueCodeableConcept"]))) or o["valueCodeableConcept"].get("text")
    if "valueDateTime" in o:
        return str(o["valueDateTime"])[:10]
    return None


def _medication_codes(rtype: str, res: dict[str, list[Json]]) -> set[str]:
    meds = {m["id"]: m for m in res.get("Medication", [])}
    out: set[str] = set()
    for r in res.get(rtype, []):
        if "medicationCodeableConcept" in r:
            out |= _codes(r["medicationCodeableConcept"])
        elif "medicationReference" in r:
            ref = str(r["medicationReference"].get("reference", "")).split("/")[-1]
            out |= _codes(meds.get(ref, {}).get("code"))
    return out


def _merged_identifiers(res: dict[str, list[Json]]) -> set[str]:
    out: set[str] = set()
    for link in res.get("Linkage", []):  # FHIR-Converter: a Linkage, the retired patient "historical"
        out |= {str(i["resource"]["identifier"]["value"]) for i in link.get("item", [])
                if i.get("type") == "historical" and "identifier" in i.get("resource", {})}
    for p in res.get("Patient", []):  # fhirflow (the IG): the retired Patient, replaced-by the survivor
        if any(lk.get("type") == "replaced-by" for lk in p.get("link", [])):
            out |= {str(i["value"]) for i in p.get("identifier", [])}
    return out


def key_fields(resources: list[Json]) -> dict[str, Any]:
    """The compared fields of one conversion, each a set (or a value) to compare by meaning."""
    res = _by_type(resources)
    pats = [p for p in res.get("Patient", []) if p.get("active") is not False]
    out: dict[str, Any] = {}
    if pats:
        p = pats[0]
        out["Patient.identifier"] = {str(i.get("value")) for i in p.get("identifier", [])}
        out["Patient.name.family"] = {str(n.get("family")) for n in p.get("name", []) if n.get("family")}
        out["Patient.birthDate"] = p.get("birthDate")
        out["Patient.gender"] = p.get("gender")
        out["Patient.race"] = _race(p)
    if res.get("Encounter"):
        e = res["Encounter"][0]
        out["Encounter.class"] = e.get("class", {}).get("code")
        out["Encounter.status"] = e.get("status")
        out["Encounter.period.start"] = _utc(str(e.get("period", {}).get("start", "")))
        out["Encounter.location (count)"] = len(e.get("location", [])) or None
    obs = res.get("Observation", [])
    if obs:
        out["Observation.code"] = set().union(*(_codes(o.get("code")) for o in obs))
        out["Observation.value"] = {v for v in (_value(o) for o in obs) if v}
        out["Observation.unit"] = {str(o["valueQuantity"].get("unit") or o["valueQuantity"].get("code"))
                                   for o in obs if "valueQuantity" in o}
    if res.get("DiagnosticReport"):
        reports = res["DiagnosticReport"]
        out["DiagnosticReport.code"] = set().union(*(_codes(r.get("code")) for r in reports))
        out["DiagnosticReport.result (counts)"] = sorted(len(r.get("result", [])) for r in reports)
    if res.get("Immunization"):
        out["Immunization.vaccineCode"] = set().union(*(_codes(i.get("vaccineCode")) for i in res["Immunization"]))
    for rtype in ("MedicationRequest", "MedicationDispense"):
        if res.get(rtype):
            out[f"{rtype}.medication"] = _medication_codes(rtype, res)
    if res.get("AllergyIntolerance"):
        out["AllergyIntolerance.code"] = set().union(*(_codes(a.get("code")) for a in res["AllergyIntolerance"]))
    if (merged := _merged_identifiers(res)):
        out["merged identifier"] = merged
    return {k: v for k, v in out.items() if v not in (None, set(), [], "")}


def _agrees(theirs: Any, ours: Any) -> bool:
    if isinstance(theirs, set):
        # Every value FHIR-Converter gives must be among ours (we may carry more).
        return isinstance(ours, set) and theirs <= ours
    return bool(theirs == ours)


def compare(name: str, ours: list[Json]) -> Json:
    """One pair: types (theirs, ours), and each of their key fields, agreeing or not."""
    bundle = json.loads((DATA / "expected" / f"{name}-expected.json").read_text(encoding="utf-8"))
    theirs = [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] not in IGNORED_TYPES]
    t_types, o_types = Counter(r["resourceType"] for r in theirs), Counter(r["resourceType"] for r in ours)
    t_keys, o_keys = key_fields(theirs), key_fields(ours)
    fields = {k: (_agrees(v, o_keys.get(k)), v, o_keys.get(k)) for k, v in t_keys.items()}
    return {"name": name, "theirs": dict(sorted(t_types.items())), "ours": dict(sorted(o_types.items())),
            "types_agree": len(set(t_types) & set(o_types)), "types_theirs": len(t_types), "fields": fields}


def convert_pairs(tmp: Path) -> list[Json]:
    """Convert every paired input (one pipeline run each) and compare it."""
    from etl.config import JobConfig
    from etl.pipeline import convert

    out = []
    for src in sorted(DATA.glob("*.hl7")):
        if not (DATA / "expected" / f"{src.stem}-expected.json").exists():
            continue
        dest = tmp / src.stem
        convert([src], dest, JobConfig(id_salt="peer"))
        ours = [json.loads(line) for f in sorted((dest / "fhir").glob("*.ndjson"))
                for line in f.read_text(encoding="utf-8").splitlines()]
        out.append(compare(src.stem, ours))
    return out


def totals(rows: list[Json]) -> tuple[float, float]:
    """(% of FHIR-Converter's resource types we emit too, % of their key fields we agree on)."""
    types = sum(r["types_agree"] for r in rows) / max(1, sum(r["types_theirs"] for r in rows))
    fields = [ok for r in rows for ok, _, _ in r["fields"].values()]
    return 100 * types, 100 * sum(fields) / max(1, len(fields))


def render(rows: list[Json]) -> str:
    lines = []
    for r in rows:
        lines.append(f"## {r['name']}: types {r['types_agree']}/{r['types_theirs']}")
        for t in sorted(set(r["theirs"]) | set(r["ours"])):
            lines.append(f"  {t:<24} FHIR-Converter {r['theirs'].get(t, 0):>3}   fhirflow {r['ours'].get(t, 0):>3}")
        for k, (ok, theirs, ours) in r["fields"].items():
            lines.append(f"  {'ok ' if ok else 'DIFF'} {k}: {sorted(theirs) if isinstance(theirs, set) else theirs}"
                         f" | {sorted(ours) if isinstance(ours, set) else ours}")
    t, f = totals(rows)
    lines.append(f"resource types agreeing: {t:.1f}%  key fields agreeing: {f:.1f}%")
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    with tempfile.TemporaryDirectory() as d:
        print(render(convert_pairs(Path(d))))
