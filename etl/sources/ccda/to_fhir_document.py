"""The document itself → Composition (structured body) and DocumentReference (the document as a
whole, with the embedded content of an Unstructured Document).

Source: US Realm Header (2.16.840.1.113883.10.20.22.1.1) and the document-level templates in
:data:`codes.DOCUMENT_TYPES`. Targets: C-CDA on FHIR document profiles
(http://hl7.org/fhir/us/ccda/StructureDefinition/*, Composition) and US Core DocumentReference.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from lxml import etree

from etl.sources.ccda import codes
from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import (
    Json,
    codeable,
    data_absent,
    identifier,
    instant,
    period,
    put,
    required_codeable,
    ts,
)
from etl.sources.ccda.model import Element, attr, find, findall, template_ids, text
from etl.sources.ccda.to_fhir_participants import authors, participant_ref, to_fhir_organization

DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# C-CDA on FHIR extension for ClinicalDocument/versionNumber on Composition.
VERSION_NUMBER = "http://hl7.org/fhir/us/ccda/StructureDefinition/VersionNumber"


def document_type(doc_root: Element) -> str:
    """The document type name from its templateIds (most specific first), else 'US Realm Header'."""
    tids = set(template_ids(doc_root))
    for t in codes.DOCUMENT_TYPE_PRIORITY:
        if t in tids:
            return codes.DOCUMENT_TYPES[t]
    if find(doc_root, "component/nonXMLBody") is not None:
        return "Unstructured Document"
    return "US Realm Header"


def to_fhir_composition(b: DocumentBuilder, sections: list[Json]) -> Json:
    """ClinicalDocument header + ``structuredBody`` sections → Composition.

    :return: http://hl7.org/fhir/us/ccda/StructureDefinition/US-Realm-Header
    """
    root_el = b.doc.root
    res: Json = {"resourceType": "Composition", "id": b.ctx.make("Composition", *b.doc.id_parts)}
    if b.doc.version is not None:
        res["extension"] = [{"url": VERSION_NUMBER, "valueInteger": b.doc.version}]
    put(res, "language", attr(find(root_el, "languageCode"), "code") or None)
    put(res, "identifier", identifier(find(root_el, "id")))
    res["status"] = "final"
    res["type"] = required_codeable(find(root_el, "code"), b.doc)
    if "text" not in res["type"] and res["type"]["coding"][0].get("system") == DATA_ABSENT_SYSTEM:
        # The document code is null: the template still says what kind of document this is.
        res["type"]["text"] = document_type(root_el)
    res["subject"] = b.patient_ref
    put(res, "encounter", b.encounter_ref)
    res["date"] = ts(find(root_el, "effectiveTime"), b.ctx, "ClinicalDocument/effectiveTime") or None
    if not res["date"]:
        del res["date"]
        res["_date"] = {"extension": [data_absent()]}
    who = authors(root_el, b)
    res["author"] = who or [{"extension": [data_absent()]}]
    res["title"] = text(find(root_el, "title")) or document_type(root_el)
    conf = attr(find(root_el, "confidentialityCode"), "code")
    if conf in ("U", "L", "M", "N", "R", "V"):
        res["confidentiality"] = conf
    attesters = []
    for path, mode in (("legalAuthenticator", "legal"), ("authenticator", "professional")):
        for auth in findall(root_el, path):
            att: Json = {"mode": mode}
            put(att, "time", ts(find(auth, "time"), b.ctx, f"{path}/time"))
            put(att, "party", participant_ref(find(auth, "assignedEntity"), b))
            attesters.append(att)
    put(res, "attester", attesters)
    put(res, "custodian", to_fhir_organization(
        find(root_el, "custodian/assignedCustodian/representedCustodianOrganization"), b))
    events = []
    for se in findall(root_el, "documentationOf/serviceEvent"):
        event: Json = {}
        cc = codeable(find(se, "code"), b.doc)
        if cc:
            event["code"] = [cc]
        put(event, "period", period(find(se, "effectiveTime"), b.ctx, "serviceEvent/effectiveTime"))
        details = [r for p in findall(se, "performer") for r in [participant_ref(find(p, "assignedEntity"), b)] if r]
        put(event, "detail", details)
        if event:
            events.append(event)
    put(res, "event", events)
    # relatedDocument RPLC (C-CDA on FHIR: relatedDocument → Composition.relatesTo): the parent's
    # ClinicalDocument/id; its Composition is this one when they share a setId (same resource id).
    put(res, "relatesTo", [{"code": "replaces", "targetIdentifier": ident} for rel in findall(root_el, "relatedDocument")
                           if attr(rel, "typeCode") == "RPLC"
                           for ident in [identifier(find(rel, "parentDocument/id"))] if ident])
    put(res, "section", sections)
    return res


def to_fhir_document_reference(b: DocumentBuilder, composition: Json, embed: bool) -> Json:
    """The document as a DocumentReference: the Unstructured Document's ``nonXMLBody`` content (B64
    inline data or a referenced URL), or — when ``embed`` — the CDA XML itself, with its SHA-1.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference
    """
    root_el = b.doc.root
    res: Json = {"resourceType": "DocumentReference",
                 "id": b.ctx.make("DocumentReference", "document", *b.doc.id_parts)}
    put(res, "masterIdentifier", identifier(find(root_el, "id")))
    set_id = identifier(find(root_el, "setId"))
    if set_id:
        res["identifier"] = [set_id]
    res["status"] = "current"
    res["docStatus"] = "final" if find(root_el, "legalAuthenticator") is not None else "preliminary"
    res["type"] = composition["type"]
    res["category"] = [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                                    "code": "clinical-note", "display": "Clinical Note"}]}]
    res["subject"] = b.patient_ref
    put(res, "date", instant(find(root_el, "effectiveTime"), b.ctx))
    put(res, "author", [a for a in composition.get("author", []) if "reference" in a])
    put(res, "custodian", composition.get("custodian"))
    put(res, "description", composition.get("title"))
    conf = attr(find(root_el, "confidentialityCode"), "code")
    if conf:
        res["securityLabel"] = [{"coding": [{"system": codes.V3 + "v3-Confidentiality", "code": conf}]}]
    res["content"] = [_content(b.doc.root, embed)]
    ctx: Json = {}
    put(ctx, "encounter", [b.encounter_ref] if b.encounter_ref else None)
    put(ctx, "period", (composition.get("event") or [{}])[0].get("period"))
    put(res, "context", ctx)
    return res


def _content(root_el: Element, embed: bool) -> Json:
    body = find(root_el, "component/nonXMLBody/text")
    # R2.x versions its templates with ``extension`` (2014-06-09, 2015-08-01); R1.1 has none. Any
    # document-level template counts: an Unstructured Document need not repeat the US Realm Header.
    r21 = any(attr(t, "root").startswith("2.16.840.1.113883.10.20.22.1.") and attr(t, "extension")
              for t in findall(root_el, "templateId"))
    fmt = "urn:hl7-org:sdwg:ccda-structuredBody:" + ("2.1" if r21 else "1.1")
    attachment: dict[str, Any] = {"contentType": "text/xml"}
    if body is not None:
        fmt = "urn:hl7-org:sdwg:ccda-nonXMLBody:" + ("2.1" if r21 else "1.1")
        media = attr(body, "mediaType") or "text/plain"
        ref = attr(find(body, "reference"), "value")
        if attr(body, "representation") == "B64":
            data = "".join((body.text or "").split())
            attachment = {"contentType": media, "data": data}
            try:
                raw = base64.b64decode(data, validate=True)
                attachment["size"] = len(raw)
                attachment["hash"] = base64.b64encode(hashlib.sha1(raw).digest()).decode()
            except ValueError:
                pass
        elif ref:
            attachment = {"contentType": media, "url": ref}
        else:
            attachment = {"contentType": media,
                          "data": base64.b64encode(text(body).encode()).decode()}
    elif embed:
        raw = etree.tostring(root_el, encoding="UTF-8", xml_declaration=True)
        attachment["data"] = base64.b64encode(raw).decode()
        attachment["size"] = len(raw)
        attachment["hash"] = base64.b64encode(hashlib.sha1(raw).digest()).decode()
    return {"attachment": attachment,
            "format": {"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode", "code": fmt}}
