"""SCH (+AIS/AIG/AIL/AIP) → Appointment, TXA (+OBX) → DocumentReference, MSH → Provenance.

Mappings: v2-to-fhir IG segment maps SCH[Appointment], TXA[DocumentReference], MSH[Provenance].
The Provenance of a message targets every resource made from it and names the source file,
MSH-10 and MSH-7; the message's Z-segments (site-defined, no standard meaning) ride on it as
extensions carrying each raw segment, so nothing of the message is silently dropped.
"""

from __future__ import annotations

import base64
from typing import Any

from etl.fhir.datatypes import ts_to_fhir
from etl.fhir.ids import reference
from etl.sources.hl7v2 import codes
from etl.sources.hl7v2.build import MessageBuilder
from etl.sources.hl7v2.datatypes import dt, ei, first_cc
from etl.sources.hl7v2.model import Segment
from etl.sources.hl7v2.to_fhir_roles import sending_application

Json = dict[str, Any]
EXT_Z_SEGMENT = "https://fhirflow.dev/fhir/StructureDefinition/hl7v2-z-segment"
EXT_SOURCE_FILE = "https://fhirflow.dev/fhir/StructureDefinition/source-file"


def to_fhir_appointment(sch: Segment, b: MessageBuilder, event: str) -> Json:
    """SCH (placer id .1, filler id .2, reason .6/.7, type .8, duration .9/.10, timing .11,
    status .25) + TQ1 + AIS/AIG/AIL/AIP resources → Appointment.

    :return: https://hl7.org/fhir/R4/appointment.html (mapping: v2-to-fhir IG, SCH[Appointment])
    """
    ctx = b.ctx
    placer, filler = sch.reps(1), sch.reps(2)
    key = (placer[0].get(1) if placer else "", filler[0].get(1) if filler else "")
    rid = ctx.make("Appointment", "hl7v2", b.facility, *key) if any(key) else \
        ctx.make("Appointment", "hl7v2", "msg", b.facility, b.msg.control_id)
    res: Json = {"resourceType": "Appointment", "id": rid}
    ident = [i for i in (ei(rep, t) for f, t in ((1, "PLAC"), (2, "FILL")) for rep in sch.reps(f)) if i is not None]
    if ident:
        res["identifier"] = ident
    status_text = sch.get(25, 1).upper() or sch.get(25, 2).upper()
    res["status"] = codes.APPOINTMENT_STATUS.get(status_text) or codes.APPOINTMENT_EVENT.get(event, "booked")
    if (reason := first_cc(sch, 7) or first_cc(sch, 6)) is not None:
        res["reasonCode"] = [reason]
    if (atype := first_cc(sch, 8)) is not None:
        res["appointmentType"] = atype
    ais = b.msg.first("AIS")
    if ais is not None and (service := first_cc(ais, 3)) is not None:
        res["serviceType"] = [service]
    tq1 = b.msg.first("TQ1")
    start = dt(sch.get(11, 4), ctx, "SCH-11.4") or (dt(tq1.get(7), ctx, "TQ1-7") if tq1 is not None else None) or \
        (dt(ais.get(4), ctx, "AIS-4") if ais is not None else None)
    end = dt(sch.get(11, 5), ctx, "SCH-11.5") or (dt(tq1.get(8), ctx, "TQ1-8") if tq1 is not None else None)
    # Appointment.start/end are instants: only timestamps with a time and an offset qualify.
    if start and "T" in start and end and "T" in end:
        res["start"], res["end"] = start, end
    elif start and "T" in start and res["status"] not in ("proposed", "cancelled", "waitlist"):
        res["start"] = start
        if sch.get(9).isdigit():
            res["minutesDuration"] = int(sch.get(9))
    if res["status"] not in ("proposed", "cancelled", "waitlist") and "start" not in res:
        res["status"] = "proposed"  # app-3: a booked appointment has a start; without one it is a request
    participants: list[Json] = [{"actor": b.patient_ref(), "status": "accepted"}]
    for seg in b.msg.all("AIP"):
        for rep in seg.reps(3):
            if (ref := b.practitioner(rep)) is not None:
                participants.append({"actor": ref, "status": "accepted"})
    for seg in b.msg.all("AIL"):
        for rep in seg.reps(3):
            if (ref := b.location(rep)) is not None:
                participants.append({"actor": ref, "status": "accepted"})
    res["participant"] = participants
    if sch.get(9).isdigit() and "end" not in res and "minutesDuration" not in res and "start" in res:
        res["minutesDuration"] = int(sch.get(9))
    return res


def to_fhir_document_reference(txa: Segment, b: MessageBuilder, obx: list[Segment], *, cancelled: bool) -> Json:
    """TXA (type .2, activity date .4, provider .5, originator .9, unique document number .12,
    parent .13, filename .16, completion status .17, authenticator .22) + its OBX content (TX/FT/ST
    lines as text/plain, ED as its own media type) → DocumentReference.

    :return: https://hl7.org/fhir/R4/documentreference.html (mapping: v2-to-fhir IG, TXA[DocumentReference])
    """
    ctx = b.ctx
    unique = txa.reps(12)
    key = (unique[0].get(1), unique[0].get(2)) if unique and unique[0].get(1) else ("msg", b.msg.control_id, txa.get(1))
    res: Json = {"resourceType": "DocumentReference", "id": ctx.make("DocumentReference", "hl7v2", b.facility, *key)}
    if unique and (mi := ei(unique[0])) is not None:
        res["masterIdentifier"] = mi
    placer = [i for i in (ei(rep, "PLAC") for rep in txa.reps(14)) if i is not None]
    if placer:
        res["identifier"] = placer
    res["status"] = "entered-in-error" if cancelled else "current"
    doc_status = codes.DOC_STATUS.get(txa.get(17).upper())
    if doc_status and not cancelled:
        res["docStatus"] = doc_status
    res["type"] = first_cc(txa, 2) or {"text": "document"}
    res["subject"] = b.patient_ref()
    if (when := dt(txa.get(4) or txa.get(6), ctx, "TXA-4")) and "T" in when:
        res["date"] = when
    authors = [r for r in (b.practitioner(rep) for f in (9, 5) for rep in txa.reps(f)) if r is not None]
    if authors:
        res["author"] = authors[:1] if len(authors) == 1 else list({a["reference"]: a for a in authors}.values())
    for rep in txa.reps(22):
        if (ref := b.practitioner(rep)) is not None:
            res["authenticator"] = ref
            break
    if (parent := txa.reps(13)) and parent[0].get(1):
        res["relatesTo"] = [{"code": "appends", "target": {"identifier": {"value": parent[0].get(1)}}}]
    content = []
    lines = []
    for seg in obx:
        vtype = seg.get(2).upper()
        if vtype == "ED":
            for rep in seg.reps(5):
                data, media = rep.get(5), "/".join(x for x in (rep.get(2), rep.get(3)) if x).lower()
                if data:
                    encoded = data if rep.get(4).upper() == "BASE64" else base64.b64encode(data.encode()).decode()
                    content.append({"attachment": {"contentType": media or "application/octet-stream", "data": encoded}})
        else:
            lines += [rep.get(1) if vtype != "FT" else b.msg.encoding.unescape(rep.raw) for rep in seg.reps(5)]
    if lines:
        text = "\n".join(lines)
        content.insert(0, {"attachment": {"contentType": "text/plain; charset=utf-8",
                                          "data": base64.b64encode(text.encode()).decode()}})
    if not content:  # a notification without content (MDM^T01/T03/...): the document is named only
        content = [{"attachment": {"title": txa.get(16) or res["type"].get("text") or "document"}}]
    res["content"] = content
    if b.encounter_id:
        res["context"] = {"encounter": [reference("Encounter", b.encounter_id)]}
    return res


def _instant(value: str) -> str:
    """A FHIR instant from a dateTime that has a time and an offset; else the start of its day, UTC."""
    if "T" in value and (value.endswith("Z") or value[-6] in "+-"):
        return value
    day = value[:10] if len(value) >= 10 else (value + "-01-01")[:10] if len(value) == 4 else (value + "-01")[:10]
    return f"{day}T00:00:00Z"


def to_fhir_provenance(b: MessageBuilder, source_file: str, position: str) -> Json | None:
    """MSH → Provenance of every resource made from the message: activity MSH-9.2 (v2-0003),
    recorded MSH-7 (an instant: a time without an offset is kept in ``occurredDateTime`` and
    ``recorded`` gives the start of its day), agent the sending facility (MSH-4, MSH-3), entity the
    message (MSH-10 and the source file), plus its Z-segments as extensions.

    :return: https://hl7.org/fhir/R4/provenance.html (mapping: v2-to-fhir IG, MSH[Provenance])
    """
    msg = b.msg
    control = msg.control_id
    rid = b.ctx.make("Provenance", "hl7v2", msg.get("MSH-3.1"), b.facility, control or f"{source_file}#{position}")
    sent = ts_to_fhir(msg.get("MSH-7"), b.ctx.source_timezone) if msg.get("MSH-7") else None
    if sent is None:
        return None
    res: Json = {"resourceType": "Provenance", "id": rid}
    zsegs = [{"url": EXT_Z_SEGMENT, "valueString": s.text} for s in msg.segments if s.name.startswith("Z")]
    if zsegs:
        b.ctx.keep("Z-segments", len(zsegs))
    ext: list[Json] = [{"url": EXT_SOURCE_FILE, "valueString": source_file}] if source_file else []
    if ext or zsegs:
        res["extension"] = ext + zsegs
    res["target"] = [reference(str(r["resourceType"]), str(r["id"])) for r in b.resources]
    res["occurredDateTime"] = sent
    res["recorded"] = _instant(sent)
    event = msg.get("MSH-9.2")
    if event:
        res["activity"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0003", "code": event}]}
    sender = b.organization_named(b.facility or msg.get("MSH-3.1") or "unknown sender", None)
    agent: Json = {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                        "code": "author"}]}}
    application = sending_application(b)  # MSH-3, acting for the sending facility (MSH-4)
    if application is not None and sender is not None:
        agent["who"], agent["onBehalfOf"] = application, sender
    else:
        agent["who"] = application or sender
    res["agent"] = [agent]
    what: Json = {"display": f"{source_file} {position}".strip() or "HL7 v2 message"}
    if control:
        what["identifier"] = {"type": {"text": "MSH-10"}, "value": control}
    res["entity"] = [{"role": "source", "what": what}]
    return res
