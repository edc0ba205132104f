"""AWS HealthLake import jobs against the replayed documented exchanges: SigV4-signed control-plane
calls (StartFHIRImportJob, DescribeFHIRImportJob polled to COMPLETED), failure, no cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from replay_helpers import Replay

from etl.config import ImportConfig, JobConfig
from etl.errors import ConfigError, PermanentLoadError, TransientLoadError
from etl.load.importer import import_folder
from etl.load.resume import cancel_import
from etl.pipeline import convert

HL7 = Path(__file__).resolve().parents[1] / "data" / "hl7v2" / "python-hl7"


@pytest.fixture
def converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "out"
    convert([HL7 / "sample_file1.hl7"], out, JobConfig(id_salt="s"))
    return out


def _config(replay: Replay, out: Path) -> JobConfig:
    return JobConfig(state_url=str(out.parent / "state.db"), load=ImportConfig(
        fhir_url=replay.base, dialect="healthlake", public_base_url="s3://bucket/out", poll_interval_s=1,
        aws_role_arn="arn:aws:iam::012345678910:role/HealthLakeImport", aws_kms_key_id="arn:aws:kms:us-east-1:012345678910:key/k",
        aws_output_s3="s3://bucket/healthlake-output/"))


def test_complete(converted: Path) -> None:
    with Replay("healthlake", "complete") as replay:
        report = import_folder(converted, _config(replay, converted), sleep=lambda s: None)
    assert replay.mismatches == [] and replay.exchanges == []
    assert report.found == report.sent and "COMPLETED" in report.message
    start, describe, _ = replay.seen
    assert start["headers"]["x-amz-target"] == "HealthLake.StartFHIRImportJob"
    assert start["body"]["InputDataConfig"] == {"S3Uri": "s3://bucket/out/fhir/"}
    assert start["body"]["DatastoreId"] == "ds1" and start["body"]["ClientToken"]
    assert describe["headers"]["x-amz-target"] == "HealthLake.DescribeFHIRImportJob"
    assert describe["body"] == {"DatastoreId": "ds1", "JobId": "c145fbb27b192af392f8ce6e7838e34f"}
    assert all(s["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
               and "/us-east-1/healthlake/aws4_request" in s["headers"]["authorization"] for s in replay.seen)


def test_failed_and_no_cancel(converted: Path) -> None:
    with Replay("healthlake", "failed") as replay, pytest.raises(PermanentLoadError, match="Access denied"):
        import_folder(converted, _config(replay, converted), sleep=lambda s: None)
    with Replay("healthlake", "complete") as replay:
        cfg = _config(replay, converted)
        with pytest.raises(TransientLoadError):  # the clock jumps past the deadline after the first describe
            import_folder(converted, cfg, sleep=lambda s: None, clock=lambda: 1e9 if len(replay.seen) >= 2 else 0.0)
        with pytest.raises(ConfigError, match="no way to cancel"):
            cancel_import(converted, cfg)


def test_needs_s3_input_and_its_settings(converted: Path) -> None:
    from etl.errors import PreflightError

    with Replay("healthlake", "complete") as replay:
        cfg = _config(replay, converted)
        https = JobConfig(load=ImportConfig(fhir_url=replay.base, dialect="healthlake",
                                            public_base_url="https://files.example/out"))
        with pytest.raises(PreflightError, match="rule source-scheme"):
            import_folder(converted, https)
        bare = JobConfig(load=ImportConfig(fhir_url=replay.base, dialect="healthlake", public_base_url="s3://b/out"))
        with pytest.raises(ConfigError, match="--aws-role-arn"):
            import_folder(converted, bare)
        assert cfg.load.dialect == "healthlake"
    assert replay.seen == []
