"""The fallback for servers without ``$import``: FHIR R4 ``transaction`` or ``batch`` Bundles of
``PUT [type]/[id]`` entries (https://hl7.org/fhir/R4/http.html#transaction), read from the folder's
NDJSON a Bundle at a time.

- **Constant memory**: lines are read as the Bundles go; at most ``concurrency`` Bundles of
  ``bundle_size`` entries are in flight, each built from the raw NDJSON bytes (never re-encoded).
- **Idempotent**: every entry is a PUT of the resource under its own deterministic id, so loading
  the same folder twice changes nothing (HAPI keeps the version when an update has no change).
- **Retries**: 429, 5xx and timeouts back off and retry, honouring ``Retry-After``
  (:class:`~etl.load.http.Sender`); a 409 (two Bundles racing to create the same placeholder
  reference target) is re-sent after a backoff too. Auth, wrong URL and other request-level 4xx
  (401, 403, 404, 405, 406, 415) fail the load at once.
- **A refused entry costs that entry**: the server's 400/412/413/422 for one resource becomes an
  error record (an OperationOutcome naming the resource, its file and line; the server's words in
  the source-excerpt extension, since they may quote the data), and the rest still loads.
  In a ``batch`` the server answers per entry. A ``transaction`` is all-or-nothing, so a refused
  one is **bisected**: split in halves, each half re-sent, recursively, until each bad entry stands
  alone; k bad entries in a Bundle of n cost at most about 2·k·log2(n) extra requests, and every
  good entry is loaded by a half that passes. More than ``max_rejected`` refused entries end the load
  (a systematically broken batch, not a few bad resources).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson

from etl.errors import PermanentLoadError, TransientLoadError
from etl.fhir.ids import IdFactory
from etl.fhir.outcome import EXT_SOURCE_FILE, EXT_SOURCE_LOCATION, issue
from etl.load.dialects.base import LoadContext, LoadInput, LoadResult
from etl.load.http import outcome_text, raise_for_permanent

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answers that refuse what an entry (or the Bundle's size) holds, not the request as such.
ENTRY_STATUS = frozenset({400, 412, 413, 422})
CONFLICT = 409
# Patients first, then what most resources point at: a server that checks references sees fewer
# forward ones (with concurrency > 1 and cross-references, some remain: the server must accept them).
_FIRST = ("Patient", "Organization", "Practitioner", "Location", "Coverage")


@dataclass(frozen=True)
class Entry:
    """One resource to PUT: its type and id, where it came from, and its NDJSON bytes."""

    type: str
    id: str
    path: str
    line: int
    raw: bytes


@dataclass
class _Delivery:
    """What sending one Bundle (and its halves) came to."""

    accepted: int = 0
    requests: int = 0
    refused: list[tuple[Entry, int, str]] = field(default_factory=list)  # entry, HTTP status, server's words


def order(inputs: list[LoadInput]) -> list[LoadInput]:
    rank = {t: i for i, t in enumerate(_FIRST)}
    return sorted(inputs, key=lambda i: (rank.get(i.type, len(_FIRST)), i.type, i.path))


def entries(ctx: LoadContext, refused: list[tuple[Entry, int, str]]) -> Iterator[Entry]:
    """Every resource of the folder's inputs, one at a time; a line that cannot be PUT (no id, not
    JSON) is refused here, without asking the server."""
    for item in order(ctx.inputs):
        with open(ctx.folder / item.path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                raw = line.strip()
                if not raw:
                    continue
                try:
                    resource = orjson.loads(raw)
                    rtype, rid = resource.get("resourceType") or item.type, resource.get("id")
                except (orjson.JSONDecodeError, AttributeError):
                    rtype, rid = item.type, None
                entry = Entry(str(rtype), str(rid or ""), item.path, n, raw)
                if not rid:
                    refused.append((entry, 0, "the line has no resource id (fhirflow writes one on every resource)"))
                    continue
                yield entry


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), read as they go (Python 3.12's
    ``itertools.batched``, which 3.11 lacks)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def body(kind: str, batch: list[Entry]) -> bytes:
    """The Bundle as bytes, each resource spliced in as read."""
    parts = [b'{"resource":' + e.raw + b',"request":{"method":"PUT","url":' + orjson.dumps(f"{e.type}/{e.id}") + b"}}"
             for e in batch]
    return b'{"resourceType":"Bundle","type":"' + kind.encode() + b'","entry":[' + b",".join(parts) + b"]}"


def rejection(entry: Entry, status: int, said: str, ids: IdFactory) -> dict[str, Any]:
    """The error record of a refused entry. Its text names the resource, file and line (no data);
    the server's diagnostics, which may quote the resource, go in the source-excerpt extension."""
    where = f"line {entry.line}"
    text = (f"{entry.type}/{entry.id}: the FHIR server refused the entry (HTTP {status})" if status
            else f"{entry.type}: {said}")
    one = issue("error", "processing", text, quoted={"server": said[:2000]} if status and said else None)
    one["diagnostics"] = f"{entry.path}: {where}: {text}"
    return {
        "resourceType": "OperationOutcome",
        "id": ids.make("OperationOutcome", entry.path, where, "load", entry.type, entry.id),
        "extension": [{"url": EXT_SOURCE_FILE, "valueString": entry.path},
                      {"url": EXT_SOURCE_LOCATION, "valueString": where}],
        "issue": [one],
    }


class BundleLoader:
    """``transaction`` or ``batch`` Bundles of PUTs (see the module docstring)."""

    def __init__(self, kind: str) -> None:
        if kind not in ("transaction", "batch"):
            raise ValueError(kind)
        self.name = self.kind = kind

    def load(self, ctx: LoadContext) -> LoadResult:
        cfg = ctx.config
        result = LoadResult(message=f"{self.kind} Bundles of up to {cfg.bundle_size} PUTs, {cfg.concurrency} at a time")
        ids = IdFactory(ctx.id_salt)
        local: list[tuple[Entry, int, str]] = []
        ctx.started("")
        accepted = 0
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="fhirflow-bundles")
        pending: set[Future[_Delivery]] = set()

        def collect(done: set[Future[_Delivery]]) -> None:
            nonlocal accepted
            for future in done:
                delivery = future.result()
                accepted += delivery.accepted
                result.requests += delivery.requests
                self._refuse(result, delivery.refused, ids, cfg.max_rejected)

        try:
            for batch in batched(entries(ctx, local), cfg.bundle_size):
                self._refuse(result, local, ids, cfg.max_rejected)
                local.clear()
                pending.add(pool.submit(self._deliver, ctx, batch, stop))
                if len(pending) >= cfg.concurrency:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    collect(done)
                    log.info("%s bundles: %d resources accepted, %d refused", self.kind, accepted,
                             len(result.rejections))
            self._refuse(result, local, ids, cfg.max_rejected)
            done, pending = wait(pending)
            collect(done)
        except BaseException:
            stop.set()  # the Bundles already sent finish; no new ones start
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        log.info("%s bundles: %d resources accepted, %d refused, %d requests", self.kind, accepted,
                 len(result.rejections), result.requests)
        return result

    def _refuse(self, result: LoadResult, refused: list[tuple[Entry, int, str]], ids: IdFactory, cap: int) -> None:
        for entry, status, said in refused:
            result.rejected[entry.type] = result.rejected.get(entry.type, 0) + 1
            result.rejections.append(rejection(entry, status, said, ids))
            if entry.id:
                result.refused.append((entry.type, entry.id))
        if len(result.rejections) > cap:
            raise PermanentLoadError(
                f"the FHIR server refused more than {cap} resources (max-rejected); the first: "
                f"{result.rejections[0]['issue'][0]['diagnostics']}")

    # -- one Bundle, in a worker thread ------------------------------------------------------------

    def _deliver(self, ctx: LoadContext, batch: list[Entry], stop: threading.Event) -> _Delivery:
        out = _Delivery()
        if not stop.is_set():
            self._send(ctx, batch, out)
        return out

    def _post(self, ctx: LoadContext, batch: list[Entry], out: _Delivery) -> httpx.Response:
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
                   "Prefer": "return=minimal"}
        attempt = 0
        while True:
            attempt += 1
            response = ctx.sender.send("POST", ctx.base_url, content=body(self.kind, batch), headers=headers)
            out.requests += 1
            if response.status_code != CONFLICT or attempt >= ctx.config.max_attempts:
                return response
            ctx.sleep(ctx.sender.backoff(attempt))

    def _send(self, ctx: LoadContext, batch: list[Entry], out: _Delivery, attempt: int = 1) -> None:
        response = self._post(ctx, batch, out)
        status = response.status_code
        if status < 300:
            if self.kind == "batch":
                self._batch_response(ctx, batch, response, out, attempt)
            else:
                out.accepted += len(batch)
            return
        if status in ENTRY_STATUS or status == CONFLICT:
            if len(batch) == 1:
                out.refused.append((batch[0], status, outcome_text(response)[0]))
                return
            half = len(batch) // 2  # all-or-nothing (or a Bundle too large): bisect
            self._send(ctx, batch[:half], out)
            self._send(ctx, batch[half:], out)
            return
        raise_for_permanent(response, f"{self.kind} Bundle")
        raise PermanentLoadError(f"{self.kind} Bundle: unexpected HTTP {status}", status=status)

    def _batch_response(self, ctx: LoadContext, batch: list[Entry], response: httpx.Response, out: _Delivery,
                        attempt: int) -> None:
        """Read a batch-response: each entry's ``response.status`` says how its PUT went; the entries
        with a transient status are sent again (backoff), up to ``max_attempts`` times."""
        try:
            answers = response.json().get("entry") or []
        except (ValueError, AttributeError):
            answers = None
        if not isinstance(answers, list) or len(answers) != len(batch):
            raise PermanentLoadError(f"batch Bundle: the server answered {len(answers or [])} entries "
                                     f"for {len(batch)} sent", status=response.status_code)
        retry: list[Entry] = []
        for entry, answer in zip(batch, answers, strict=True):
            reply = answer.get("response") or {}
            try:
                code = int(str(reply.get("status", "")).split()[0])
            except (ValueError, IndexError):
                code = 0
            if 200 <= code < 300:
                out.accepted += 1
            elif code in (408, 429, CONFLICT) or code >= 500:
                retry.append(entry)
            else:
                out.refused.append((entry, code, _outcome_words(reply.get("outcome"))))
        if retry:
            if attempt >= ctx.config.max_attempts:
                raise TransientLoadError(f"batch Bundle: {len(retry)} entries still failed with a transient "
                                         f"status after {attempt} attempts")
            ctx.sleep(ctx.sender.backoff(attempt))
            self._send(ctx, retry, out, attempt + 1)


def _outcome_words(outcome: Any) -> str:
    if not isinstance(outcome, dict):
        return ""
    texts = [i.get("diagnostics") or (i.get("details") or {}).get("text", "") for i in outcome.get("issue", [])]
    return "; ".join(t for t in texts if t)[:1000]
