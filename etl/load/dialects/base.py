"""The shapes of a dialect: a :class:`Loader` gets a folder onto a server; an
:class:`ImportDialect` is one server's flavour of bulk ``$import`` that the bulk loader drives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from etl.config import ImportConfig

if TYPE_CHECKING:
    from etl.load.http import Sender


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


@dataclass(frozen=True)
class LoadInput:
    """One NDJSON file of the folder to load: its type, path relative to the folder, line count."""

    type: str
    path: str
    count: int


@dataclass
class LoadResult:
    """What a dialect did. ``rejected`` counts, per type, the resources the server refused (each one
    an error record in ``rejections``); everything else was sent and accepted."""

    status_url: str = ""
    message: str = ""
    polls: int = 0
    requests: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (type, id) of each, where it has an id
    server_counts: dict[str, int] = field(default_factory=dict)  # what a bulk job said it imported, per type
    server_errors: tuple[str, ...] = ()  # URLs of the job's error NDJSON (the importer keeps them)


@dataclass
class LoadContext:
    """What a dialect needs: the folder (one pinned generation), its inputs, the server, the
    retrying sender, the clock. ``started`` is called once the server took the work (with the job's
    status URL, if any), so a receipt exists before the long part."""

    folder: Path
    inputs: list[LoadInput]
    base_url: str
    config: ImportConfig
    sender: Sender
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    started: Callable[[str], None]
    id_salt: str
    resume_url: str = ""  # a bulk job already on the server (its receipt is open): poll it, never kick off again


class Loader(Protocol):
    """A way of getting a folder's resources onto a server (bulk ``$import``, Bundles, ...)."""

    name: str

    def load(self, ctx: LoadContext) -> LoadResult:
        """Send everything in ``ctx.inputs``; raise TransientLoadError / PermanentLoadError when the
        load as a whole cannot go on. Verification and receipts are the importer's."""
        ...
