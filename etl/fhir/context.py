"""What a mapper gets besides its source record: ids, and where to put data problems.

Mappers stay pure (no I/O, no clock, no globals): everything they may depend on arrives in the
:class:`MappingContext`, and everything they notice goes back through :meth:`MappingContext.problem` (a recoverable problem) or
:meth:`MappingContext.reject` (a part of the unit, such as one X12 claim, that cannot be converted
while the rest of the unit can: the pipeline writes it as an error record of its own).
"""

from __future__ import annotations

import logging

from etl.config import Strictness
from etl.errors import InputError, MappingError
from etl.fhir.ids import IdFactory

log = logging.getLogger(__name__)


class MappingContext(IdFactory):
    """An :class:`IdFactory` that also applies the job's strictness to recoverable problems.

    ``source_timezone`` (IANA name) places source timestamps that carry no offset; see
    :func:`etl.fhir.datatypes.ts_to_fhir`.
    """

    def __init__(
        self, salt: str, strictness: Strictness = Strictness.WARN, source_timezone: str | None = None
    ) -> None:
        super().__init__(salt)
        self.strictness = strictness
        self.source_timezone = source_timezone
        self.warnings: list[str] = []
        # source values of the warnings, by the warning's index in ``warnings``: {spec path: value}
        self.excerpts: dict[int, dict[str, str]] = {}
        self.rejections: list[InputError] = []
        # source content kept without a FHIR element of its own (HL7 v2 Z-segments), per kind
        self.kept: dict[str, int] = {}

    def problem(self, message: str, expression: str | None = None, value: str | None = None) -> None:
        """Report a recoverable data problem (unknown code, unparseable optional value).

        ``RAISE`` rejects the unit; ``WARN`` records a warning the run summary counts;
        ``IGNORE`` only logs at debug level. The message must not quote the input (it goes to
        logs); ``value``, the source value at fault, goes only into the record's source excerpt
        (the error or warnings NDJSON), keyed by ``expression``.
        """
        text = f"{expression}: {message}" if expression else message
        if self.strictness is Strictness.RAISE:
            err = MappingError(message, code="value").at_expression(expression)
            if value:
                err.quote(expression or "value", value)
            raise err
        if self.strictness is Strictness.WARN:
            self.warnings.append(text)
            if value:
                self.excerpts[len(self.warnings) - 1] = {expression or "value": value}
        log.debug("data problem: %s", text)

    def keep(self, kind: str, n: int = 1) -> None:
        """Count source content the mapper carried raw (e.g. as an extension); the pipeline adds the
        counts of each converted unit to the file's summary (``kept``)."""
        self.kept[kind] = self.kept.get(kind, 0) + n

    def take_kept(self) -> dict[str, int]:
        """The counts gathered since the last call, and forget them."""
        out, self.kept = self.kept, {}
        return out

    def take_warnings(self) -> list[str]:
        """The warnings gathered since the last call, and forget them."""
        return [text for text, _ in self.take_warnings_quoted()]

    def take_warnings_quoted(self) -> list[tuple[str, dict[str, str]]]:
        """The warnings gathered since the last call, each with its source excerpt (maybe empty),
        and forget them."""
        out = [(text, self.excerpts.get(i, {})) for i, text in enumerate(self.warnings)]
        self.warnings, self.excerpts = [], {}
        return out

    def reject(self, error: InputError) -> None:
        """Record that one part of the unit being mapped (an X12 claim, a member) was left out for
        ``error``; the mapper carries on with the rest. The pipeline drains these with
        :meth:`take_rejections` once the unit mapped, and writes each as an error record."""
        self.rejections.append(error)

    def take_rejections(self) -> list[InputError]:
        """The parts rejected since the last call, and forget them."""
        out, self.rejections = self.rejections, []
        return out
