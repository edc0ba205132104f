"""A small hand-written C-CDA document, built in code so each test states only what it varies."""

from __future__ import annotations

REALM_HEADER = "2.16.840.1.113883.10.20.22.1.1"

PROBLEMS = """
<component><section>
  <templateId root="2.16.840.1.113883.10.20.22.2.5.1" extension="2015-08-01"/>
  <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Problems</title>
  <text><paragraph>Asthma</paragraph></text>
  <entry><act classCode="ACT" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.3" extension="2015-08-01"/>
    <id root="1.2.3.4" extension="concern-1"/>
    <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
    <statusCode code="active"/>
    <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"{negation}>
      <templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/>
      <id root="1.2.3.4" extension="problem-1"/>
      <code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
      <statusCode code="completed"/>
      <effectiveTime><low value="20200301"/></effectiveTime>
      {problem_value}
    </observation></entryRelationship>
  </act></entry>
  {extra_entry}
</section></component>
"""

RESULTS = """
<component><section>
  <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
  <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Results</title>
  <text><paragraph>Hemoglobin</paragraph></text>
  <entry><organizer classCode="BATTERY" moodCode="EVN">
    <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
    <id root="1.2.3.4" extension="organizer-1"/>
    <code code="58410-2" codeSystem="2.16.840.1.113883.6.1"/>
    <statusCode code="completed"/>
    <effectiveTime value="202003011230-0500"/>
    <component><observation classCode="OBS" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
      <id root="1.2.3.4" extension="result-1"/>
      <code code="718-7" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/>
      <effectiveTime value="202003011230-0500"/>
      {result_value}
    </observation></component>
  </organizer></entry>
</section></component>
"""

DEFAULT_PROBLEM_VALUE = ('<value xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CD" '
                         'code="195967001" codeSystem="2.16.840.1.113883.6.96" displayName="Asthma"/>')
DEFAULT_RESULT_VALUE = ('<value xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="PQ" '
                        'value="13.2" unit="g/dL"/>')


def document(*, doc_templates: str = f'<templateId root="{REALM_HEADER}" extension="2015-08-01"/>'
             '<templateId root="2.16.840.1.113883.10.20.22.1.9" extension="2015-08-01"/>',
             code: str = '<code code="11506-3" codeSystem="2.16.840.1.113883.6.1" displayName="Progress note"/>',
             doc_id: str = "doc-1", problem_value: str = DEFAULT_PROBLEM_VALUE,
             result_value: str = DEFAULT_RESULT_VALUE, negation: bool = False,
             extra_entry: str = "", extra_sections: str = "", body: str | None = None,
             declaration: bool = True) -> str:
    """One ClinicalDocument (a Progress Note unless told otherwise) with a Problems and a Results section."""
    if body is None:
        body = ("<component><structuredBody>"
                + PROBLEMS.format(problem_value=problem_value, extra_entry=extra_entry,
                                  negation=' negationInd="true"' if negation else "")
                + RESULTS.format(result_value=result_value)
                + extra_sections + "</structuredBody></component>")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return head + f"""<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  {doc_templates}
  <id root="2.16.840.1.113883.19.5" extension="{doc_id}"/>
  {code}
  <title>Test note</title>
  <effectiveTime value="20200301123000-0500"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="en-US"/>
  <recordTarget><patientRole>
    <id root="2.16.840.1.113883.19.5.99999.2" extension="patient-1"/>
    <patient>
      <name><given>Test</given><family>Patient</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="19700101"/>
    </patient>
  </patientRole></recordTarget>
  <author><time value="20200301"/><assignedAuthor>
    <id root="2.16.840.1.113883.4.6" extension="1234567893"/>
    <assignedPerson><name><given>Doc</given><family>Tor</family></name></assignedPerson>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="2.16.840.1.113883.19.5"/><name>Test Clinic</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  {body}
</ClinicalDocument>
"""
