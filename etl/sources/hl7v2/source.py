"""HL7 v2 as a :class:`etl.sources.base.Source`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.encoding import utf8_head
from etl.sources.hl7v2.model import Message
from etl.sources.hl7v2.parse import read_messages
from etl.sources.hl7v2.to_fhir import to_fhir

_SEGMENT = re.compile(rb"[A-Z][A-Z0-9]{2}([^A-Za-z0-9\s])")


class Hl7v2Source:
    """HL7 v2.x ER7 files: single messages, concatenated messages, batches and files."""

    name = "hl7v2"

    def sniff(self, head: bytes) -> bool:
        """An MSH, FHS or BHS segment first; or another segment first (a PID with no MSH before it,
        reported as an error record when read) and an MSH/FHS/BHS with the same field separator
        on one of the next lines."""
        body = utf8_head(head).lstrip(b"\x0b\r\n\t ")
        if body[:3] in (b"MSH", b"FHS", b"BHS") and len(body) > 3 and not body[3:4].isalnum():
            return True
        first = _SEGMENT.match(body)
        return first is not None and re.search(
            rb"[\r\n\x0b](?:MSH|FHS|BHS)" + re.escape(first.group(1)), body) is not None

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Message]]:
        return read_messages(path, config.strictness)

    def to_fhir(self, record: Message, ctx: MappingContext, config: JobConfig) -> list[dict[str, Any]]:
        return to_fhir(record, ctx)
