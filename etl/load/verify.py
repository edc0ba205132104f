"""After a load: are the folder's resources on the server?

- ``ids`` (exact): every id, ``verify_chunk`` at a time in one ``POST [type]/_search`` with
  ``_id=a,b,…&_summary=count``, ``verify_concurrency`` requests at once. 50,000 resources cost 50
  requests (they were 500 of 100, one after another).
- ``sample``: ``GET [type]?_summary=count`` must be at least the count sent, and ``verify_sample``
  ids spread evenly over the type's files must all be found. Cheaper, not a proof: a server holding
  other resources of the type could hide a missing one that was not sampled.

Ids are streamed from the NDJSON (constant memory). The counts found are what the receipts record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import orjson

from etl.config import ImportConfig
from etl.load.dialects.base import LoadInput
from etl.load.dialects.bundles import batched
from etl.load.http import Sender, raise_for_permanent


def _ids(folder: Path, inputs: list[LoadInput], skip: set[tuple[str, str]]) -> Iterator[str]:
    for item in inputs:
        with open(folder / item.path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                rid = orjson.loads(line).get("id")
                if rid and (item.type, rid) not in skip:
                    yield str(rid)


def _count_ids(sender: Sender, base: str, rtype: str, ids: list[str]) -> int:
    response = sender.send("POST", f"{base}/{rtype}/_search", data={"_id": ",".join(ids), "_summary": "count"},
                           headers={"Accept": "application/fhir+json"})
    raise_for_permanent(response, f"verifying {rtype}")
    return int(response.json().get("total", 0))


def _count_type(sender: Sender, base: str, rtype: str) -> int:
    response = sender.send("GET", f"{base}/{rtype}", params={"_summary": "count"},
                           headers={"Accept": "application/fhir+json"})
    raise_for_permanent(response, f"counting {rtype}")
    return int(response.json().get("total", 0))


def verify(sender: Sender, base: str, folder: Path, inputs: list[LoadInput], cfg: ImportConfig,
           skip: set[tuple[str, str]] | None = None) -> dict[str, int]:
    """Per type, how many of the folder's resources (less those in ``skip``: refused by the server)
    are on the server, by ``cfg.verify`` (``ids`` or ``sample``)."""
    skip = skip or set()
    by_type: dict[str, list[LoadInput]] = {}
    for item in inputs:
        by_type.setdefault(item.type, []).append(item)
    found: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=cfg.verify_concurrency, thread_name_prefix="fhirflow-verify") as pool:
        for rtype, items in sorted(by_type.items()):
            expected = sum(i.count for i in items) - sum(1 for t, _ in skip if t == rtype)
            if cfg.verify == "sample":
                found[rtype] = _sample(sender, base, folder, rtype, items, expected, cfg, skip)
                continue
            found[rtype] = 0
            pending: deque[Future[int]] = deque()
            for chunk in batched(_ids(folder, items, skip), cfg.verify_chunk):
                pending.append(pool.submit(_count_ids, sender, base, rtype, chunk))
                if len(pending) > cfg.verify_concurrency:  # a bounded window: constant memory
                    found[rtype] += pending.popleft().result()
            found[rtype] += sum(f.result() for f in pending)
    return found


def _sample(sender: Sender, base: str, folder: Path, rtype: str, items: list[LoadInput], expected: int,
            cfg: ImportConfig, skip: set[tuple[str, str]]) -> int:
    """``expected`` if the type's count reaches it and every sampled id is found, else what was shown."""
    step = max(1, expected // cfg.verify_sample)
    sample = [rid for n, rid in enumerate(_ids(folder, items, skip)) if n % step == 0]
    seen = sum(_count_ids(sender, base, rtype, c) for c in batched(iter(sample), cfg.verify_chunk))
    total = _count_type(sender, base, rtype)
    if seen == len(sample) and total >= expected:
        return expected
    return min(total, expected - (len(sample) - seen))
