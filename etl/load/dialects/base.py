"""The shape of an ``$import`` dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class ImportInput:
    """One NDJSON file to import: its resource type, where the server can fetch it, how many lines."""

    type: str
    url: str
    count: int


@dataclass(frozen=True)
class PollState:
    """What one status poll said. ``done`` with ``failed`` False means the job completed."""

    done: bool
    failed: bool = False
    progress: str = ""
    message: str = ""
    outcome: dict[str, Any] | None = None
    # What a completion report may carry (Azure, Bulk Data manifests): resources imported per type
    # and the URLs of the server's error NDJSON (OperationOutcome lines), fetched beside the batch.
    counts: dict[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


class ImportDialect(Protocol):
    name: str

    def kickoff(self, inputs: list[ImportInput], source: str,
                credential: tuple[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        """(relative path, headers, JSON body) of the kick-off request. ``credential``: the
        (user, password) the server must present as HTTP Basic when it fetches the inputs."""
        ...

    def status_url(self, response: httpx.Response, base_url: str) -> str:
        """Where to poll, from the kick-off response."""
        ...

    def read_status(self, response: httpx.Response) -> PollState:
        """Interpret one poll response (raise PermanentLoadError for what cannot be read)."""
        ...
