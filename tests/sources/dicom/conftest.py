"""The real Orthanc (with its DICOMweb plugin) the DICOMweb tests read from."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "docker" / "orthanc" / "orthanc.sh"


@pytest.fixture(scope="session")
def orthanc_url() -> Iterator[str]:
    """DICOMweb base URL of a real Orthanc on 127.0.0.1:$ORTHANC_HTTP_PORT: the one answering there, else
    one started now by docker/orthanc/orthanc.sh (installing Debian's packages if missing), stopped at
    the end."""
    port = os.environ.get("ORTHANC_HTTP_PORT", "8042")
    dicom_port = os.environ.get("ORTHANC_DICOM_PORT", "4242")
    was_up = subprocess.run(["bash", str(SCRIPT), "url", "--http-port", port], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(SCRIPT), "up", "--http-port", port, "--dicom-port", dicom_port],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"could not start Orthanc ({SCRIPT} up):\n{proc.stderr[-3000:]}")
    try:
        yield proc.stdout.strip().splitlines()[-1]
    finally:
        if not was_up:
            subprocess.run(["bash", str(SCRIPT), "down", "--http-port", port], capture_output=True)

