"""Against the real HAPI server: an interchange is marked loaded only by a load that completed and
was verified; a load that failed (server down) leaves it converted, and the re-send loads it once."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from etl.cli import main
from etl.state import StateStore

pytestmark = pytest.mark.hapi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources" / "x12"))
from test_x12 import _837  # noqa: E402


def _dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/fhir"


def _states(db: Path) -> list[tuple[str, str]]:
    with StateStore.open(db) as state:
        return [(r.file, r.state) for r in state.interchanges.all()]


def test_a_failed_load_then_the_resend_loads_every_claim_once(
        tmp_path: Path, hapi_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "monday.x12").write_bytes(_837("11:B:1", control="000004242", clm01="RECEIPT1"))
    db = tmp_path / "state.db"
    common = ["--state", str(db), "--no-parquet", "--id-salt", "receipts-test", "--max-wait", "1"]
    # The server is down: the load fails (exit 1) and nothing is marked loaded.
    assert main(["run", str(src), "-o", str(tmp_path / "out1"), "--fhir-url", _dead_url(), *common,
                 "--timeout", "5"]) == 1
    assert _states(db) == [("monday.x12", "converted")]
    # The same file again, server up: converted again (never loaded), loaded, verified.
    assert main(["run", str(src), "-o", str(tmp_path / "out2"), "--fhir-url", hapi_url, *common]) == 0
    assert _states(db) == [("monday.x12", "loaded")]
    with StateStore.open(db) as state:
        receipt = state.receipts.for_output(str((tmp_path / "out2").resolve()))
        assert receipt is not None and receipt.state == "completed" and receipt.found.get("Claim") == 1
        assert "$import-poll-status" in receipt.status_url
    capsys.readouterr()
    # Sent a third time: skipped, said on the terminal, exit 0, nothing converted.
    (src / "monday-again.x12").write_bytes((src / "monday.x12").read_bytes())
    (src / "monday.x12").unlink()
    assert main(["run", str(src), "-o", str(tmp_path / "out3"), "--fhir-url", hapi_url, *common]) == 0
    out = capsys.readouterr().out
    assert "ISA13=000004242" in out and "already loaded" in out and "monday.x12" in out
