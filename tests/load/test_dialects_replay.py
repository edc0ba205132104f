"""Every non-HAPI dialect against a real local HTTP server replaying the vendor's documented
exchanges (tests/data/load/<dialect>/*.json, each citing its documentation): kick-off, 202 with
X-Progress and Retry-After, completion (counts, error NDJSON kept beside the batch), failure, cancel,
and resuming an interrupted job from its receipt instead of kicking off again."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from replay_helpers import Replay

from etl.config import ImportConfig, JobConfig
from etl.errors import ConfigError, PermanentLoadError, TransientLoadError
from etl.load.importer import import_folder
from etl.load.resume import cancel_import
from etl.pipeline import convert
from etl.state import StateStore

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "python-hl7"

PUBLIC = {
    "azure": "https://example.blob.core.windows.net/out",
    "pathling": "s3a://my-bucket/out",
    "smart": "https://files.example/out",
    "bulk-submit": None,  # the built-in publisher: the server gets its credential as fileRequestHeader
    "bulk-submit-ballot": None,
    "gcp": "gs://bucket/out",
}
RECORDING = {"bulk-submit-ballot": ("bulk-submit", "complete-ballot")}


@pytest.fixture
def converted(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    convert([HL7 / "sample_file1.hl7"], out, JobConfig(id_salt="s"))
    return out


def _config(replay: Replay, dialect: str, out: Path, **kw: Any) -> JobConfig:
    load = ImportConfig(fhir_url=replay.base, dialect=dialect, public_base_url=PUBLIC[dialect], max_retry_after_s=5,
                        poll_interval_s=1, backoff_base_s=0.5, **kw)
    return JobConfig(load=load, state_url=str(out.parent / "state.db"))


def _receipt(out: Path) -> Any:
    with StateStore.open(str(out.parent / "state.db")) as store:
        return store.receipts.for_output(str(out.resolve()))


def _interrupting_clock(replay: Replay, after: int = 2) -> Callable[[], float]:
    """A clock that jumps past every deadline once the server has seen ``after`` requests (the
    kick-off and the first poll): the load gives up polling and leaves the job open."""
    return lambda: 1e9 if len(replay.seen) >= after else 0.0


def _params(body: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p for p in body["parameter"]}


@pytest.mark.parametrize("dialect", sorted(PUBLIC))
def test_complete(dialect: str, converted: Path) -> None:
    folder, scenario = RECORDING.get(dialect, (dialect, "complete"))
    slept: list[float] = []
    with Replay(folder, scenario) as replay:
        report = import_folder(converted, _config(replay, dialect, converted), sleep=slept.append)
    assert replay.mismatches == [] and replay.exchanges == []
    assert report.found == report.sent and report.sent
    assert _receipt(converted).state == "completed"
    polls = [s for s in replay.seen if s["method"] == "GET"]
    assert len(polls) == report.polls >= 2
    assert all(w <= 5 for w in slept) and slept  # Retry-After honoured up to --max-wait
    kick = [s for s in replay.seen if s["method"] == "POST"]
    if dialect == "azure":
        p = _params(kick[0]["body"])
        assert p["mode"]["valueString"] == "IncrementalLoad" and p["inputFormat"]["valueString"] == "application/fhir+ndjson"
        assert kick[0]["headers"]["prefer"] == "respond-async"
        assert all(w <= 3.0 for w in slept)  # never longer than its Retry-After
    if dialect == "pathling":
        p = _params(kick[0]["body"])
        assert p["saveMode"]["valueCoding"]["code"] == "merge"
        inputs = [i for i in kick[0]["body"]["parameter"] if i["name"] == "input"]
        assert all(part["part"][1]["valueUrl"].startswith("s3a://my-bucket/out/fhir/") for part in inputs)
    if dialect == "smart":
        assert len(kick) == 2  # the 429 "another import in progress" was retried after its Retry-After
        p = _params(kick[1]["body"])
        assert p["exportUrl"]["valueUrl"] == "https://files.example/out/manifest.json"
        assert p["exportType"]["valueCode"] == "static"
    if dialect.startswith("bulk-submit"):
        words = ("complete", "aborted") if dialect.endswith("ballot") else ("completed", "stopped")
        first, close, status = (_params(k["body"]) for k in kick)
        assert first["submissionStatus"]["valueCoding"]["code"] == "in-progress"
        assert close["submissionStatus"]["valueCoding"]["code"] == words[0]
        assert first["submissionId"] == close["submissionId"] == status["submissionId"]
        # the "server" pulled the manifest and every file with the fileRequestHeader credential,
        # and was refused without it
        assert replay.pulled[0][1] == 401
        assert [code for _, code in replay.pulled[1:]] == [200] * (1 + len(report.sent))
    if dialect == "gcp":
        assert kick[0]["body"] == {"contentStructure": "RESOURCE", "gcsSource": {"uri": "gs://bucket/out/fhir/*.ndjson"}}
    if dialect in ("azure", "smart") or dialect.startswith("bulk-submit"):
        assert report.server_errors and all((converted / "errors").rglob("*.import-001.ndjson"))
        kept = next((converted / "errors" / "server").glob("*.ndjson")).read_text()
        assert json.loads(kept)["resourceType"] == "OperationOutcome"
    if dialect == "azure":
        assert report.server_counts == {"Patient": 1}


@pytest.mark.parametrize("dialect", ["azure", "pathling", "smart", "bulk-submit", "gcp"])
def test_failed(dialect: str, converted: Path) -> None:
    with Replay(dialect, "failed") as replay, pytest.raises(PermanentLoadError) as err:
        import_folder(converted, _config(replay, dialect, converted), sleep=lambda s: None)
    assert replay.mismatches == [] and replay.exchanges == []
    said = {"azure": "size quota", "pathling": "not an allowed source", "smart": "internal timeout",
            "bulk-submit": "allowed submitters", "gcp": "failed to import"}[dialect]
    assert said in str(err.value)
    receipt = _receipt(converted)
    assert receipt is None or receipt.state == "failed"  # bulk-submit fails before any job exists


@pytest.mark.parametrize("dialect", ["azure", "pathling", "smart", "bulk-submit", "gcp"])
def test_cancel(dialect: str, converted: Path) -> None:
    with Replay(dialect, "cancel") as replay:
        cfg = _config(replay, dialect, converted)
        with pytest.raises(TransientLoadError, match="--resume"):
            import_folder(converted, cfg, sleep=lambda s: None,
                          clock=_interrupting_clock(replay, 4 if dialect == "bulk-submit" else 2))
        assert _receipt(converted).state == "started"
        said = cancel_import(converted, cfg)
    assert replay.mismatches == [] and replay.exchanges == []
    assert "cancelled" in said
    assert _receipt(converted).state == "cancelled"
    with pytest.raises(ConfigError, match="nothing to cancel"):
        cancel_import(converted, cfg)


def test_an_interrupted_job_is_resumed_not_kicked_off_again(converted: Path) -> None:
    with Replay("azure", "complete") as replay:
        cfg = _config(replay, "azure", converted)
        with pytest.raises(TransientLoadError):
            import_folder(converted, cfg, sleep=lambda s: None, clock=_interrupting_clock(replay))
        report = import_folder(converted, cfg, sleep=lambda s: None)  # no --resume needed: the receipt is open
    assert replay.mismatches == [] and replay.exchanges == []
    assert [s["method"] for s in replay.seen] == ["POST", "GET", "GET"]  # one kick-off
    assert report.found == report.sent and _receipt(converted).state == "completed"


def test_resume_without_an_open_job_is_a_usage_error(converted: Path) -> None:
    with Replay("azure", "complete") as replay:
        cfg = _config(replay, "azure", converted, resume="require")
        with pytest.raises(ConfigError, match="nothing to resume"):
            import_folder(converted, cfg)
    assert replay.seen == []


def test_bulk_submit_credential_is_the_file_request_header(converted: Path) -> None:
    with Replay("bulk-submit", "complete") as replay:
        import_folder(converted, _config(replay, "bulk-submit", converted), sleep=lambda s: None)
    header = _params(replay.seen[0]["body"])["fileRequestHeader"]["part"]
    assert header[0]["valueString"] == "Authorization"
    user, password = base64.b64decode(header[1]["valueString"].split()[1]).decode().split(":")
    assert user.startswith("fhirflow-") and len(password) >= 16
    assert password not in json.dumps(replay.seen[1]["body"])  # only the manifest submission carries it
