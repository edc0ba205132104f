"""What the DAG tests share: the DAG as the scheduler parses it, landing files, staged ids, and
how many of them the real FHIR server has."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import orjson

DAGS = Path(__file__).resolve().parents[2] / "dags"


def load_dag(dag_id: str) -> Any:
    """``dag_id`` parsed from ``dags/`` by a DagBag, as the scheduler sees it."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags[dag_id]


def land(root: Path, fmt: str, *files: Path, names: list[str] | None = None, uploading: str | None = None) -> None:
    """Copy ``files`` into ``root/landing/<fmt>/`` (as ``names`` if given); ``uploading`` adds a
    ``.part`` file that a run must leave alone."""
    landing = root / "landing" / fmt
    landing.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        shutil.copyfile(f, landing / (names[i] if names else f.name))
    if uploading is not None:
        (landing / f"still-uploading.{fmt}.part").write_text(uploading)


def staged_ids(root: Path, fmt: str) -> dict[str, list[str]]:
    """Resource type -> ids in the staged NDJSON of every run under ``root``."""
    out: dict[str, list[str]] = {}
    for path in root.glob(f"staged/{fmt}/*/*/batch-*/fhir/*.ndjson"):
        out.setdefault(path.name.split(".")[0], []).extend(
            orjson.loads(x)["id"] for x in path.read_bytes().splitlines())
    return out


def found(hapi_url: str, rtype: str, ids: list[str]) -> int:
    """How many of the distinct ``ids`` of ``rtype`` the server has."""
    r = httpx.post(f"{hapi_url}/{rtype}/_search", data={"_id": ",".join(sorted(set(ids))), "_summary": "count"},
                   timeout=60)
    r.raise_for_status()
    return int(r.json()["total"])
