"""The transaction/batch dialects against scripted servers (httpx.MockTransport): retries, Retry-After,
permanent failures, bounded Bundles. Behaviour against HAPI itself: test_bundles_hapi.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from etl.config import ImportConfig, JobConfig
from etl.errors import PermanentLoadError, TransientLoadError
from etl.load.importer import import_folder
from etl.pipeline import convert

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "python-hl7"
BASE = "http://fhir.test/fhir"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv")
    convert([HL7 / "sample_file1.hl7"], out, JobConfig(id_salt="s"))
    return out


def _run(handler: Callable[[httpx.Request], httpx.Response], folder: Path, dialect: str = "transaction",
         **kw: object) -> tuple[object, list[float], list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/_search"):
            ids = dict(httpx.QueryParams(request.content.decode()))["_id"].split(",")
            return httpx.Response(200, json={"resourceType": "Bundle", "total": len(ids)})
        return handler(request)

    slept: list[float] = []
    load = ImportConfig(fhir_url=BASE, dialect=dialect, bundle_size=2, concurrency=1, backoff_base_s=0.5,
                        max_retry_after_s=5, **kw)  # type: ignore[arg-type]
    with httpx.Client(transport=httpx.MockTransport(record)) as client:
        report = import_folder(folder, JobConfig(load=load), client=client, sleep=slept.append)
    return report, slept, [r for r in seen if r.url.path == "/fhir"]


def ok(request: httpx.Request) -> httpx.Response:
    bundle = orjson.loads(request.content)
    if bundle["type"] == "batch":
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "batch-response",
                                         "entry": [{"response": {"status": "200 OK"}} for _ in bundle["entry"]]})
    return httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response"})


def test_bundles_of_puts_with_ids_at_most_bundle_size(converted: Path) -> None:
    report, slept, posts = _run(ok, converted)
    bundles = [orjson.loads(r.content) for r in posts]
    assert all(b["type"] == "transaction" and 1 <= len(b["entry"]) <= 2 for b in bundles)
    entries = [e for b in bundles for e in b["entry"]]
    assert all(e["request"] == {"method": "PUT", "url": f"{e['resource']['resourceType']}/{e['resource']['id']}"}
               for e in entries)
    assert len(entries) == sum(report.sent.values()) and report.found == report.sent  # type: ignore[attr-defined]
    assert entries[0]["resource"]["resourceType"] == "Patient" and slept == []


def test_429_and_503_are_retried_honouring_retry_after(converted: Path) -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503)]

    def flaky(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else ok(request)

    report, slept, _ = _run(flaky, converted)
    assert slept == [3, 1.0] and report.found == report.sent  # type: ignore[attr-defined]


def test_request_level_4xx_fails_at_once(converted: Path) -> None:
    with pytest.raises(PermanentLoadError, match="HTTP 401") as exc:
        _run(lambda r: httpx.Response(401), converted)
    assert exc.value.status == 401


def test_batch_entries_with_transient_status_are_sent_again_then_give_up(converted: Path) -> None:
    calls: list[int] = []

    def busy_once(request: httpx.Request) -> httpx.Response:
        bundle = orjson.loads(request.content)
        calls.append(len(bundle["entry"]))
        if len(calls) == 1:  # the first entry of the first Bundle: 503, the rest fine
            return httpx.Response(200, json={"resourceType": "Bundle", "entry": [
                {"response": {"status": "503 Service Unavailable"}}] + [{"response": {"status": "200 OK"}}] * (
                len(bundle["entry"]) - 1)})
        return ok(request)

    report, slept, _ = _run(busy_once, converted, "batch")
    assert calls[:2] == [2, 1] and slept == [0.5] and report.found == report.sent  # type: ignore[attr-defined]

    def always_busy(request: httpx.Request) -> httpx.Response:
        n = len(orjson.loads(request.content)["entry"])
        return httpx.Response(200, json={"resourceType": "Bundle", "entry": [{"response": {"status": "503"}}] * n})

    with pytest.raises(TransientLoadError, match="after 5 attempts"):
        _run(always_busy, converted, "batch")


def test_too_many_refused_entries_end_the_load(converted: Path) -> None:
    with pytest.raises(PermanentLoadError, match="more than 1 resources"):
        _run(lambda r: httpx.Response(422), converted, max_rejected=1)
