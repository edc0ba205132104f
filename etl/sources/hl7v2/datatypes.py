"""HL7 v2 data types → FHIR data types (v2-to-fhir IG, "Data Type Maps").

CWE/CE/CNE → CodeableConcept, CX → Identifier, XPN → HumanName, XAD → Address, XTN → ContactPoint,
EI → Identifier, TS/DTM → dateTime (precision and offset kept). Pure functions of one field
repetition; the resources they sit in are built in the ``to_fhir_*`` modules.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from etl.fhir.context import MappingContext
from etl.fhir.datatypes import ts_to_fhir
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.model import Component, Segment

Json = dict[str, Any]

# An ISO OID as FHIR's oid type and HAPI's validator accept it: at least three arcs, no leading zeros.
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*)){2,}")


def coding_system(name: str) -> str | None:
    """A v2 coding-system name (Table 0396) as a FHIR system URI, if it has one."""
    if not name:
        return None
    key = name.upper().replace("-", "")
    uri = codes.CODING_SYSTEM.get(key)
    if uri is None and re.fullmatch(r"HL7\d{4}", key):
        # HL7 tables named "HL7nnnn" are the v2 code systems of THO (CodeSystem-v2-nnnn).
        return f"http://terminology.hl7.org/CodeSystem/v2-{key[3:]}"
    return uri


def codeable_concept(c: Component | None) -> Json | None:
    """CE/CWE/CNE → CodeableConcept: the primary triplet (.1-.3), the alternate (.4-.6), text .9."""
    if c is None or not c:
        return None
    codings = []
    for code_i, text_i, sys_i in ((1, 2, 3), (4, 5, 6)):
        code, display, sys_name = c.get(code_i), c.get(text_i), c.get(sys_i)
        if not code:
            continue
        coding: Json = {}
        uri = coding_system(sys_name)
        if uri:
            coding["system"] = uri
        coding["code"] = code
        if display:
            coding["display"] = display
        codings.append(coding)
    out: Json = {}
    if codings:
        out["coding"] = codings
    text = c.get(9) or c.get(2) or c.get(5)
    if text:
        out["text"] = text
    return out or None


def first_cc(seg: Segment, field: int) -> Json | None:
    """The first repetition of a coded field as a CodeableConcept."""
    reps = seg.reps(field)
    return codeable_concept(reps[0]) if reps else None


def coded(system: str, code: str, display: str = "") -> Json:
    """A CodeableConcept of one coding."""
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def v2_coded(table: str, code: str, display: str = "") -> Json:
    """A code of v2 table ``table`` as a CodeableConcept in its THO system; a code the table does
    not have (a local value) as text only."""
    if code in codes.V2_TABLES.get(table, frozenset()):
        cc = coded(f"http://terminology.hl7.org/CodeSystem/v2-{table}", code)
        if display:  # the sender's words, which need not be the table's display
            cc["text"] = display
        return cc
    return {"text": display or code}


def dt(value: str, ctx: MappingContext, path: str) -> str | None:
    """TS/DTM → dateTime; a value that is no timestamp is a recoverable problem."""
    if not value:
        return None
    out = ts_to_fhir(value, ctx.source_timezone)
    if out is None:
        ctx.problem("is not a valid HL7 timestamp (expected YYYY[MM[DD[HHMM[SS]]]][+ZZZZ])", path, value)
    return out


def authority_system(namespace: str, oid: str, oid_type: str) -> str | None:
    """HD (namespace .1, universal id .2, its type .3) as an Identifier.system."""
    if oid_type.upper() == "ISO" and _OID.fullmatch(oid):
        return f"urn:oid:{oid}"
    if namespace or oid:
        return codes.LOCAL_ID_SYSTEM + quote(namespace or oid, safe="")
    return None


def identifier_type(code: str) -> Json | None:
    if code in codes.IDENTIFIER_TYPES:
        return {"coding": [{"system": codes.IDENTIFIER_TYPE_SYSTEM, "code": code}]}
    return {"text": code} if code else None


def cx(rep: Component) -> Json | None:
    """CX → Identifier (value .1, assigning authority .4, identifier type .5, period .7/.8)."""
    value = rep.get(1)
    if not value:
        return None
    ident: Json = {}
    if (t := identifier_type(rep.get(5))) is not None:
        ident["type"] = t
    if (system := authority_system(rep.get(4, 1), rep.get(4, 2), rep.get(4, 3))) is not None:
        ident["system"] = system
    ident["value"] = value
    return ident


def identifiers(seg: Segment, field: int) -> list[Json]:
    """The CX repetitions of a field → Identifiers."""
    return [i for i in (cx(rep) for rep in seg.reps(field)) if i is not None]


def ei(rep: Component, type_code: str = "") -> Json | None:
    """EI (entity id .1, namespace .2, universal id .3, its type .4) → Identifier."""
    value = rep.get(1)
    if not value:
        return None
    ident: Json = {}
    if type_code:
        ident["type"] = {"coding": [{"system": codes.IDENTIFIER_TYPE_SYSTEM, "code": type_code}]}
    if (system := authority_system(rep.get(2), rep.get(3), rep.get(4))) is not None:
        ident["system"] = system
    ident["value"] = value
    return ident


def plain_identifier(value: str, type_code: str = "") -> Json:
    """An Identifier of a bare value (ST/NM ids such as PID-19 or PID-20.1)."""
    ident: Json = {}
    if (t := identifier_type(type_code)) is not None:
        ident["type"] = t
    ident["value"] = value
    return ident


def human_name(rep: Component, offset: int = 0) -> Json | None:
    """XPN → HumanName (family .1.1, given .2 and .3, suffix .4, prefix .5, use .7). ``offset``
    shifts the components for XCN, whose name starts at .2."""
    name: Json = {}
    family = rep.get(1 + offset, 1)
    if family:
        name["family"] = family
    given = [g for g in (rep.get(2 + offset), rep.get(3 + offset)) if g]
    if given:
        name["given"] = given
    if rep.get(5 + offset):
        name["prefix"] = [rep.get(5 + offset)]
    if rep.get(4 + offset):
        name["suffix"] = [rep.get(4 + offset)]
    use = codes.NAME_USE.get(rep.get(7 + offset))
    if use:
        name["use"] = use
    return name or None


def human_names(seg: Segment, field: int) -> list[Json]:
    """The XPN repetitions of a field → HumanNames."""
    return [n for n in (human_name(rep) for rep in seg.reps(field)) if n is not None]


def address(rep: Component) -> Json | None:
    """XAD → Address (street .1.1 and .2, city .3, state .4, zip .5, country .6, type .7, county .9)."""
    addr: Json = {}
    addr_type = rep.get(7)
    if addr_type in codes.ADDRESS_USE:
        addr["use"] = codes.ADDRESS_USE[addr_type]
    lines = [x for x in (rep.get(1, 1), rep.get(2)) if x]
    if lines:
        addr["line"] = lines
    for key, comp in (("city", 3), ("district", 9), ("state", 4), ("postalCode", 5), ("country", 6)):
        if rep.get(comp):
            addr[key] = rep.get(comp)
    if not any(k != "use" for k in addr):
        return None
    return addr


def addresses(seg: Segment, field: int) -> list[Json]:
    """The XAD repetitions of a field → Addresses."""
    return [a for a in (address(rep) for rep in seg.reps(field)) if a is not None]


def telecom(rep: Component, default_use: str) -> Json | None:
    """XTN → ContactPoint (number .1, else .12, else .6/.7; e-mail .4, use .2, equipment .3)."""
    use_code, equipment = rep.get(2), rep.get(3)
    email = rep.get(4)
    number = rep.get(1) or rep.get(12) or "".join(x for x in (rep.get(6), rep.get(7)) if x)
    if rep.get(8) and number:
        number = f"{number} ext. {rep.get(8)}"
    cp: Json
    if email and (equipment in ("Internet", "X.400") or use_code == "NET" or not number):
        cp = {"system": "email", "value": email}
    elif number:
        cp = {"system": codes.TELECOM_EQUIPMENT.get(equipment, "phone"), "value": number}
    else:
        return None
    use = codes.TELECOM_USE.get(use_code, default_use) if use_code else default_use
    if equipment == "CP":
        use = "mobile"
    if use:
        cp["use"] = use
    return cp


def telecoms(seg: Segment, field: int, default_use: str) -> list[Json]:
    """The XTN repetitions of a field → ContactPoints."""
    return [t for t in (telecom(rep, default_use) for rep in seg.reps(field)) if t is not None]
