"""HL7 v2 as a :class:`etl.sources.base.Source`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.hl7v2.model import Message
from etl.sources.hl7v2.parse import read_messages
from etl.sources.hl7v2.to_fhir import to_fhir


class Hl7v2Source:
    """HL7 v2.x ER7 files: single messages, concatenated messages, batches and files."""

    name = "hl7v2"

    def sniff(self, head: bytes) -> bool:
        body = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\x0b\r\n\t ")
        return body[:3] in (b"MSH", b"FHS", b"BHS") and len(body) > 3 and not body[3:4].isalnum()

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Message]]:
        return read_messages(path)

    def to_fhir(self, record: Message, ctx: MappingContext, config: JobConfig) -> list[dict[str, Any]]:
        return to_fhir(record, ctx)
