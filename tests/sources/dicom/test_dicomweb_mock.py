"""DICOMweb reader, single functions against httpx.MockTransport: paging, a refused study, retries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from etl.config import ImportConfig, JobConfig
from etl.errors import TransientLoadError
from etl.sources.dicom.dicomweb import date_range, read_server, shown

BASE = "http://pacs.test/dicom-web"


def _instance(study: str, n: int) -> dict[str, Any]:
    ui = lambda v: {"vr": "UI", "Value": [v]}  # noqa: E731
    return {"00080016": ui("1.2.840.10008.5.1.4.1.1.2"), "00080018": ui(f"{study}.1.{n}"),
            "0020000D": ui(study), "0020000E": ui(f"{study}.1"), "00080060": {"vr": "CS", "Value": ["CT"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Web^Pat"}]},
            "7FE00010": {"vr": "OW", "BulkDataURI": f"{BASE}/bulk/{n}"}}


def _config() -> JobConfig:
    return JobConfig(dicom_since="2026-01-01", load=ImportConfig(backoff_base_s=0.001, max_attempts=3))


def test_window_and_names() -> None:
    assert date_range("2026-01-01", "2026-01-31") == "20260101-20260131"
    assert date_range("2026-01-01", None) == "20260101-" and date_range(None, None) is None
    assert shown("http://user:secret@pacs.test:8042/dicom-web") == "http://pacs.test:8042/dicom-web"


def test_pages_a_refused_study_and_a_retried_one() -> None:
    studies = [f"1.2.3.{i}" for i in range(1, 106)]  # two QIDO pages (100 a page)
    calls: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls[path] = calls.get(path, 0) + 1
        if path.endswith("/studies"):
            assert request.url.params["StudyDate"] == "20260101-"
            offset = int(request.url.params["offset"])
            page = studies[offset:offset + 100]
            return httpx.Response(200, json=[{"0020000D": {"vr": "UI", "Value": [s]}} for s in page])
        uid = path.split("/")[-2]
        if uid == "1.2.3.2":
            return httpx.Response(404)
        if uid == "1.2.3.3" and calls[path] == 1:
            return httpx.Response(503)  # transient: retried
        return httpx.Response(200, json=[_instance(uid, 1), _instance(uid, 2)])

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        units = list(read_server(f"dicomweb+{BASE}", _config(), client))
    errors = [u for u in units if u.error is not None]
    assert len(errors) == 1 and "HTTP 404" in errors[0].error.message  # type: ignore[union-attr]
    assert errors[0].error.quoted == {"(0020,000D)": "1.2.3.2"}  # type: ignore[union-attr]
    records = [u.record for u in units if u.record is not None]
    assert len(records) == 2 * 104
    assert {r.instance.wado_base for r in records} == {BASE}
    assert records[0].instance.patient_name == ("Web^Pat", "", "")


def test_a_server_that_stays_down_fails_the_run() -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as client:
        with pytest.raises(TransientLoadError):
            list(read_server(f"dicomweb+{BASE}", _config(), client))
