"""The $import client against scripted servers (httpx.MockTransport): every status path, no sleeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from etl.config import ImportConfig, JobConfig
from etl.errors import ConfigError, PermanentLoadError, TransientLoadError
from etl.load.importer import import_folder
from etl.pipeline import convert

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "python-hl7"
BASE = "http://fhir.test/fhir"
POLL = f"{BASE}/$import-poll-status?_jobId=j1"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv")
    convert([HL7 / "sample_file1.hl7"], out, JobConfig(id_salt="s"))
    return out


def _cfg(**kw: object) -> JobConfig:
    load = ImportConfig(fhir_url=BASE, public_base_url="http://files.test/out", max_retry_after_s=5,
                        poll_interval_s=1, backoff_base_s=0.5, **kw)  # type: ignore[arg-type]
    return JobConfig(load=load)


class Server:
    """A scripted FHIR server: kick-off answers, then poll answers in order; counts what it saw."""

    def __init__(self, kickoff: list[httpx.Response], polls: list[httpx.Response], found: Callable[[int], int] = lambda n: n):
        self.kickoff, self.polls, self.found = list(kickoff), list(polls), found
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/$import"):
            return self.kickoff.pop(0)
        if "$import-poll-status" in str(request.url):
            return self.polls.pop(0)
        if request.url.path.endswith("/_search"):
            ids = dict(httpx.QueryParams(request.content.decode()))["_id"].split(",")
            return httpx.Response(200, json={"resourceType": "Bundle", "total": self.found(len(ids))})
        return httpx.Response(404)


def accepted() -> httpx.Response:
    return httpx.Response(202, headers={"Content-Location": POLL})


def running(retry: str = "120") -> httpx.Response:
    return httpx.Response(202, headers={"X-Progress": "Job is in progress", "Retry-After": retry})


def done() -> httpx.Response:
    return httpx.Response(200, json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": "Job complete"}]})


def _run(server: Server, folder: Path, cfg: JobConfig | None = None,
         clock: Callable[[], float] | None = None) -> tuple[object, list[float]]:
    slept: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(server)) as client:
        report = import_folder(folder, cfg or _cfg(), client=client, sleep=slept.append,
                               clock=clock or (lambda: 0.0))
    return report, slept


def test_happy_path_kickoff_poll_verify(converted: Path) -> None:
    server = Server([accepted()], [running(), running("1"), done()])
    report, slept = _run(server, converted)
    kick = server.requests[0]
    assert kick.method == "POST" and kick.headers["Prefer"] == "respond-async"
    assert kick.headers["Content-Type"] == "application/fhir+json"
    body = json.loads(kick.content)
    inputs = [{p["name"]: p.get("valueCode") or p.get("valueUri") for p in x["part"]}
              for x in body["parameter"] if x["name"] == "input"]
    assert inputs[0]["type"] == "Patient"  # patients load first
    assert all(i["url"].startswith("http://files.test/out/fhir/") for i in inputs)
    assert {p["name"] for p in body["parameter"]} >= {"inputFormat", "inputSource", "storageDetail", "input"}
    assert slept == [1, 1]  # a young job is polled every poll_interval_s, whatever Retry-After 120 says
    assert report.status_url == POLL and report.polls == 3  # type: ignore[attr-defined]
    assert report.found == report.sent  # type: ignore[attr-defined]


def test_transient_kickoff_is_retried_with_backoff(converted: Path) -> None:
    server = Server([httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(503), accepted()], [done()])
    _, slept = _run(server, converted)
    assert slept == [2, 1.0]


def test_permanent_kickoff_fails_at_once_with_server_words(converted: Path) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
                                                               "diagnostics": "Must request async processing"}]}
    server = Server([httpx.Response(400, json=outcome)], [])
    with pytest.raises(PermanentLoadError, match="Must request async processing") as exc:
        _run(server, converted)
    assert exc.value.status == 400 and exc.value.outcome == outcome
    assert len(server.requests) == 1


def test_failed_job_500_is_permanent(converted: Path) -> None:
    failed = httpx.Response(500, json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "processing", "diagnostics": "HAPI-2054: unable to fetch"}]})
    server = Server([accepted()], [running(), failed])
    with pytest.raises(PermanentLoadError, match="HAPI-2054"):
        _run(server, converted)


def test_cancelled_job_404(converted: Path) -> None:
    server = Server([accepted()], [httpx.Response(404)])
    with pytest.raises(PermanentLoadError, match="cancelled"):
        _run(server, converted)


def test_poll_timeout_is_transient(converted: Path) -> None:
    server = Server([accepted()], [running()] * 50)
    with pytest.raises(TransientLoadError, match="still running"):
        _run(server, converted, _cfg(timeout_s=0))


def test_network_errors_exhaust_retries_as_transient(converted: Path) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(TransientLoadError, match="ConnectTimeout after 5 attempts"):
        _run(broken, converted)  # type: ignore[arg-type]


def test_missing_resources_after_completion_fail(converted: Path) -> None:
    server = Server([accepted()], [done()], found=lambda n: n - 1)
    with pytest.raises(PermanentLoadError, match="missing on the server"):
        _run(server, converted)


def test_no_manifest_or_no_url_is_a_config_error(tmp_path: Path, converted: Path) -> None:
    with pytest.raises(ConfigError, match="no manifest.json"):
        import_folder(tmp_path, _cfg())
    with pytest.raises(ConfigError, match="--fhir-url"):
        import_folder(converted, JobConfig())


def test_one_retry_policy_transient_then_exhausted(converted: Path) -> None:
    """tenacity drives the one policy: Retry-After honoured (capped), then TransientLoadError after
    max_attempts, naming the attempts; no Airflow-level retry is needed on top."""
    server = Server([httpx.Response(503, headers={"Retry-After": "2"})] * 3, [])
    with pytest.raises(TransientLoadError, match="HTTP 503 after 3 attempts"):
        _run(server, converted, _cfg(max_attempts=3))
    assert len(server.requests) == 3


def test_poll_waits_a_tenth_of_the_elapsed_time_within_retry_after_and_the_cap(converted: Path) -> None:
    times = [0.0, 0.0, 0.0, 30.0, 100.0, 200.0]  # the load's start, the job's start, then each poll

    def clock() -> float:
        return times.pop(0) if len(times) > 1 else times[0]

    server = Server([accepted()], [running(), running(), running(), running("2"), done()])
    _, slept = _run(server, converted, clock=clock)
    # 0 s: poll_interval 1; 30 s: 3; 100 s: 10 capped at max_retry_after_s 5; 200 s: the server's 2
    assert slept == [1, 3, 5, 2]


def test_a_large_batch_is_imported_in_tiers_referenced_types_first(tmp_path: Path) -> None:
    """More than 4 work chunks: a job per tier (Patient before what points at it), so that no two
    chunks race to create the same placeholder; a small batch is one job."""
    converted = tmp_path / "out"
    convert([HL7 / "sample_hl7.hl7", HL7 / "sample_file1.hl7", HL7 / "sample_batch.hl7", HL7 / "sample_batch2.hl7"],
            converted, JobConfig(id_salt="s"))
    kinds = sorted({o["type"] for o in json.loads((converted / "manifest.json").read_text())["output"]})
    assert "Patient" in kinds and len(kinds) > 1
    server = Server([accepted()] * 5, [done()] * 5)
    report, _ = _run(server, converted, _cfg(import_chunk=1))
    jobs = [[x["part"][0]["valueCode"] for x in json.loads(r.content)["parameter"] if x["name"] == "input"]
            for r in server.requests if r.url.path.endswith("/$import")]
    from etl.load.dialects.bulk import TIERS

    def tier(t: str) -> int:
        return next((n for n, types in enumerate(TIERS) if t in types), len(TIERS))

    # one job per tier, in tier order (referenced types first: Organization before Patient before Encounter)
    assert len(jobs) > 1 and sorted(t for j in jobs for t in j) == kinds
    assert [tier(j[0]) for j in jobs] == sorted({tier(t) for t in kinds}) and all(len({tier(t) for t in j}) == 1 for j in jobs)
    assert report.found == report.sent  # type: ignore[attr-defined]
    server = Server([accepted()], [done()])
    _run(server, converted)
    assert sum(r.url.path.endswith("/$import") for r in server.requests) == 1


def test_a_resumed_tiered_load_finishes_the_open_tier_and_kicks_off_only_the_rest(tmp_path: Path) -> None:
    converted = tmp_path / "out"
    convert([HL7 / "sample_hl7.hl7", HL7 / "sample_file1.hl7", HL7 / "sample_batch.hl7", HL7 / "sample_batch2.hl7"],
            converted, JobConfig(id_salt="s"))
    cfg = JobConfig(load=_cfg(import_chunk=1).load, state_url=str(tmp_path / "state.db"))
    first = Server([accepted()] * 9, [done(), running()] + [done()] * 9)  # tier 1 completes, tier 2 still runs
    polls = {"n": 0}

    def clock() -> float:  # past every deadline once tier 2 has been polled
        polls["n"] = sum("$import-poll-status" in str(r.url) for r in first.requests)
        return 1e9 if polls["n"] >= 2 else 0.0

    with httpx.Client(transport=httpx.MockTransport(first)) as client, pytest.raises(TransientLoadError):
        import_folder(converted, cfg, client=client, sleep=lambda s: None, clock=clock)
    kicked_first = [r for r in first.requests if r.url.path.endswith("/$import")]
    assert len(kicked_first) == 2
    second = Server([accepted()] * 9, [done()] * 9)
    with httpx.Client(transport=httpx.MockTransport(second)) as client:
        report = import_folder(converted, cfg, client=client, sleep=lambda s: None)
    kicked_second = [json.loads(r.content) for r in second.requests if r.url.path.endswith("/$import")]
    types = [{p["part"][0]["valueCode"] for p in k["parameter"] if p["name"] == "input"} for k in kicked_second]
    first_types = [{p["part"][0]["valueCode"] for p in json.loads(r.content)["parameter"] if p["name"] == "input"}
                   for r in kicked_first]
    assert second.requests[0].method == "GET"  # the open tier-2 job is polled first, not kicked off again
    assert not (set().union(*types) & set().union(*first_types))  # only the tiers after it are kicked off
    kinds = {o["type"] for o in json.loads((converted / "manifest.json").read_text())["output"] if o["count"]}
    assert set().union(*types, *first_types) == kinds and types  # ... and all of them
    assert report.found == report.sent
