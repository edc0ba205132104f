"""The resources of one HL7 v2 message as they are built: shared ones (Practitioner, Organization,
Location) made once per message however many fields name them, each a deterministic id.

Practitioner from XCN, Organization from XON and Location from PL follow the v2-to-fhir IG data
type maps (XCN[Practitioner], XON[Organization], PL[Location]); PL becomes one Location per level
(facility, point of care, room, bed), each ``partOf`` the level above, as the IG's PL map does.
"""

from __future__ import annotations

from typing import Any

from etl.fhir.context import MappingContext
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.datatypes import authority_system, human_name, identifier_type
from etl.sources.hl7v2.model import Component, Message

Json = dict[str, Any]

# PL components from the top of the hierarchy down: (component, location-physical-type code, display).
_PL_LEVELS = ((4, "si", "Site"), (1, "wa", "Ward"), (2, "ro", "Room"), (3, "bd", "Bed"))
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


class MessageBuilder:
    """Collects the resources of one message in order, each id once."""

    def __init__(self, msg: Message, ctx: MappingContext) -> None:
        self.msg = msg
        self.ctx = ctx
        self.resources: list[Json] = []
        self._seen: dict[tuple[str, str], Json] = {}
        self.patient_id = ""
        self.encounter_id = ""
        # The sending facility (MSH-4) scopes the ids a sender assigns (orders, visits, documents).
        self.facility = msg.get("MSH-4.1") or msg.get("MSH-4.2") or msg.get("MSH-3.1")

    def add(self, res: Json) -> str:
        """Add a resource unless one of the same type and id is there already; its id."""
        key = (str(res["resourceType"]), str(res["id"]))
        if key not in self._seen:
            self._seen[key] = res
            self.resources.append(res)
        return key[1]

    def has(self, rtype: str, rid: str) -> bool:
        return (rtype, rid) in self._seen

    def patient_ref(self) -> dict[str, str]:
        return reference("Patient", self.patient_id)

    # --- XCN → Practitioner ------------------------------------------------------------------

    def practitioner(self, rep: Component) -> dict[str, str] | None:
        """XCN (id .1, name .2-.7, assigning authority .9, identifier type .13) → a reference to
        its Practitioner, made the first time it is named. None when the field names nobody."""
        pid_value = rep.get(1)
        name = human_name(rep, offset=1)
        if not pid_value and name is None:
            return None
        authority = rep.get(9, 1) or rep.get(9, 2)
        if pid_value:
            rid = self.ctx.make("Practitioner", "hl7v2", authority, pid_value)
        else:
            assert name is not None
            rid = self.ctx.make("Practitioner", "hl7v2", "name", self.facility, name.get("family", ""),
                                *name.get("given", []))
        if not self.has("Practitioner", rid):
            res: Json = {"resourceType": "Practitioner", "id": rid}
            if pid_value:
                ident: Json = {}
                if (t := identifier_type(rep.get(13))) is not None:
                    ident["type"] = t
                if (system := authority_system(rep.get(9, 1), rep.get(9, 2), rep.get(9, 3))) is not None:
                    ident["system"] = system
                ident["value"] = pid_value
                res["identifier"] = [ident]
            if name is not None:
                res["name"] = [name]
            self.add(res)
        return reference("Practitioner", rid)

    # --- XON → Organization ------------------------------------------------------------------

    def organization(self, rep: Component, *, type_code: str = "") -> dict[str, str] | None:
        """XON (name .1, id .10, or .3 before v2.5, assigning authority .6) → a reference to its
        Organization. None when the field is empty."""
        name = rep.get(1)
        org_id = rep.get(10) or rep.get(3)
        if not name and not org_id:
            return None
        authority = rep.get(6, 1) or rep.get(6, 2)
        rid = self.ctx.make("Organization", "hl7v2", authority, org_id) if org_id else \
            self.ctx.make("Organization", "hl7v2", "name", name)
        if not self.has("Organization", rid):
            res: Json = {"resourceType": "Organization", "id": rid}
            if org_id:
                ident: Json = {"value": org_id}
                if (system := authority_system(rep.get(6, 1), rep.get(6, 2), rep.get(6, 3))) is not None:
                    ident["system"] = system
                res["identifier"] = [ident]
            if type_code:
                res["type"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                            "code": type_code}]}]
            if name:
                res["name"] = name
            self.add(res)
        return reference("Organization", rid)

    def organization_named(self, name: str, ident: Json | None = None, type_code: str = "",
                           address: list[Json] | None = None, telecom: list[Json] | None = None) -> dict[str, str] | None:
        """An Organization known by a name and maybe one identifier (IN1-3/4, HD fields)."""
        if not name and ident is None:
            return None
        rid = self.ctx.make("Organization", "hl7v2", ident.get("system", ""), ident["value"]) if ident else \
            self.ctx.make("Organization", "hl7v2", "name", name)
        if not self.has("Organization", rid):
            res: Json = {"resourceType": "Organization", "id": rid}
            if ident:
                res["identifier"] = [ident]
            if type_code:
                res["type"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                            "code": type_code}]}]
            if name:
                res["name"] = name
            if telecom:
                res["telecom"] = telecom
            if address:
                res["address"] = address
            self.add(res)
        return reference("Organization", rid)

    # --- PL → Location ---------------------------------------------------------------------------

    def location(self, rep: Component) -> dict[str, str] | None:
        """PL → the most specific of its Locations (bed, room, point of care, facility), each level
        its own Location ``partOf`` the one above. None when the field is empty."""
        key: list[str] = []
        parent: dict[str, str] | None = None
        for comp, code, display in _PL_LEVELS:
            value = rep.get(comp, 1) if comp == 4 else rep.get(comp)
            if not value:
                continue
            key += [str(comp), value]
            rid = self.ctx.make("Location", "hl7v2", *key)
            if not self.has("Location", rid):
                res: Json = {"resourceType": "Location", "id": rid, "name": value, "mode": "instance",
                             "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": code, "display": display}]}}
                if comp == 3 and rep.get(5):
                    status = codes.BED_STATUS.get(rep.get(5))
                    if status:
                        res["operationalStatus"] = {"system": "http://terminology.hl7.org/CodeSystem/v2-0116",
                                                    "code": status}
                if comp == 1 and rep.get(9):
                    res["description"] = rep.get(9)
                if parent is not None:
                    res["partOf"] = parent
                self.add(res)
            parent = reference("Location", rid)
        return parent
