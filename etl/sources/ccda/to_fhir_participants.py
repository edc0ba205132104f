"""Authors, performers, custodians → Practitioner, PractitionerRole, Organization, Device.

Source: CDA ``assignedAuthor`` / ``assignedEntity`` / ``representedOrganization`` /
``representedCustodianOrganization`` (US Realm Header 2.16.840.1.113883.10.20.22.1.1, Author
Participation 2.16.840.1.113883.10.20.22.4.119, Performer). Targets: US Core Practitioner,
PractitionerRole and Organization profiles, per C-CDA on FHIR (https://hl7.org/fhir/us/ccda/).
"""

from __future__ import annotations

from etl.sources.ccda.builder import DocumentBuilder
from etl.sources.ccda.datatypes import (
    Json,
    addresses,
    codeable,
    id_key,
    identifiers,
    names,
    put,
    telecoms,
)
from etl.sources.ccda.model import Element, attr, find, text


def _key(b: DocumentBuilder, rtype: str, el: Element, fallback: str) -> str:
    key = id_key(el)
    if key is not None:
        return b.ctx.make(rtype, *key)
    root, ext = b.doc.doc_id
    return b.ctx.make(rtype, "document", root, ext, fallback)


def to_fhir_organization(org: Element | None, b: DocumentBuilder) -> dict[str, str] | None:
    """``representedOrganization`` (and kin) → Organization; None when it has neither id nor name.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization
    """
    if org is None or org.get("nullFlavor"):
        return None
    name = text(find(org, "name"))
    ids = identifiers(org)
    if not name and not ids:
        return None  # FHIR org-1: an Organization needs an identifier or a name
    key = id_key(org)
    rid = b.ctx.make("Organization", *key) if key else b.ctx.make("Organization", "name", name)
    res: Json = {"resourceType": "Organization", "id": rid, "active": True}
    put(res, "identifier", ids)
    put(res, "name", name)
    put(res, "telecom", telecoms(org))
    put(res, "address", addresses(org, b.ctx))
    return b.add(res)


def to_fhir_practitioner(assigned: Element, b: DocumentBuilder) -> dict[str, str] | None:
    """``assignedAuthor``/``assignedEntity`` with ``assignedPerson`` → Practitioner.

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner
    """
    person = find(assigned, "assignedPerson")
    ids = identifiers(assigned)
    person_names = names(person)
    if not ids and not person_names:
        return None
    rid = _key(b, "Practitioner", assigned, "name:" + text(find(person, "name")))
    res: Json = {"resourceType": "Practitioner", "id": rid}
    put(res, "identifier", ids)
    put(res, "name", person_names)
    put(res, "telecom", telecoms(assigned))
    put(res, "address", addresses(assigned, b.ctx))
    return b.add(res)


def to_fhir_practitioner_role(
    assigned: Element, practitioner: dict[str, str], organization: dict[str, str] | None, b: DocumentBuilder
) -> dict[str, str] | None:
    """The practitioner's role in the organization (``assignedAuthor/code`` as the role's code).

    :return: http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitionerrole
    """
    role_code = codeable(find(assigned, "code"), b.doc)
    if organization is None and role_code is None:
        return None
    rid = b.ctx.make("PractitionerRole", practitioner["reference"], (organization or {}).get("reference"),
                     attr(find(assigned, "code"), "code"))
    res: Json = {"resourceType": "PractitionerRole", "id": rid, "active": True, "practitioner": practitioner}
    put(res, "organization", organization)
    if role_code:
        res["code"] = [role_code]
    put(res, "telecom", telecoms(assigned))
    return b.add(res)


def to_fhir_device_author(assigned: Element, b: DocumentBuilder) -> dict[str, str] | None:
    """``assignedAuthoringDevice`` (software or device authoring the document) → Device.

    :return: https://hl7.org/fhir/R4/device.html
    """
    dev = find(assigned, "assignedAuthoringDevice")
    if dev is None:
        return None
    model, software = text(find(dev, "manufacturerModelName")), text(find(dev, "softwareName"))
    rid = _key(b, "Device", assigned, f"device:{model}:{software}")
    res: Json = {"resourceType": "Device", "id": rid}
    put(res, "identifier", identifiers(assigned))
    put(res, "modelNumber", model or None)
    dev_names = [{"name": n, "type": t} for n, t in ((model, "model-name"), (software, "user-friendly-name")) if n]
    put(res, "deviceName", dev_names)
    if software:
        res["version"] = [{"value": software}]
    owner = to_fhir_organization(find(assigned, "representedOrganization"), b)
    put(res, "owner", owner)
    return b.add(res)


def participant_ref(assigned: Element | None, b: DocumentBuilder) -> dict[str, str] | None:
    """Whoever ``assignedAuthor``/``assignedEntity`` names: a Practitioner (plus its PractitionerRole
    and Organization), a Device, only an Organization, or a Practitioner known only by its id."""
    if assigned is None or assigned.get("nullFlavor"):
        return None
    org = to_fhir_organization(find(assigned, "representedOrganization"), b)
    if find(assigned, "assignedPerson") is not None:
        prac = to_fhir_practitioner(assigned, b)
        if prac is not None:
            to_fhir_practitioner_role(assigned, prac, org, b)
            return prac
    if find(assigned, "assignedAuthoringDevice") is not None:
        return to_fhir_device_author(assigned, b)
    if org is None and identifiers(assigned):
        # Only an id (e.g. ``<assignedAuthor><id root=…/></assignedAuthor>``): a person known by
        # their id; a Practitioner with just the identifier keeps who it was (C-CDA on FHIR).
        return to_fhir_practitioner(assigned, b)
    return org


def authors(el: Element, b: DocumentBuilder) -> list[dict[str, str]]:
    """References to every ``author`` of an act or document."""
    out = []
    for author in el.findall("{urn:hl7-org:v3}author"):
        ref = participant_ref(find(author, "assignedAuthor"), b)
        if ref and ref not in out:
            out.append(ref)
    return out


def performers(el: Element, b: DocumentBuilder) -> list[dict[str, str]]:
    """References to every ``performer/assignedEntity`` of an act."""
    out = []
    for perf in el.findall("{urn:hl7-org:v3}performer"):
        ref = participant_ref(find(perf, "assignedEntity"), b)
        if ref and ref not in out:
            out.append(ref)
    return out
