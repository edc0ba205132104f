"""C-CDA as a :class:`etl.sources.base.Source`.

Config fields read when present (``getattr``, so older :class:`JobConfig` versions work):
``ccda_max_bytes`` (document size limit, default 50 MiB) and ``ccda_embed_document`` (put the CDA
XML in the document's DocumentReference, default True).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl.config import JobConfig
from etl.fhir.context import MappingContext
from etl.sources.base import Unit
from etl.sources.ccda.model import Document
from etl.sources.ccda.parse import read_documents
from etl.sources.ccda.to_fhir import to_fhir
from etl.sources.encoding import utf8_head


class CcdaSource:
    """C-CDA R1.1/R2.1 documents (``ClinicalDocument`` XML); one unit per document, plus one error
    unit per section that could not be read."""

    name = "ccda"

    def sniff(self, head: bytes) -> bool:
        body = utf8_head(head).lstrip()
        if not body.startswith(b"<"):
            return False
        return b"ClinicalDocument" in body or b"urn:hl7-org:v3" in body

    def read(self, path: Path, config: JobConfig) -> Iterator[Unit[Document]]:
        return read_documents(path, config)

    def to_fhir(self, record: Document, ctx: MappingContext, config: JobConfig) -> list[dict[str, Any]]:
        return to_fhir(record, ctx, embed_document=config.ccda_embed_document)
