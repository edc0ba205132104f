"""DAG integrity: every DAG file imports quickly without errors and follows the house rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert {"hl7v2_batches"} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_imports_nothing_heavy(path: Path) -> None:
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in ('pyarrow', 'duckdb', 'lxml', 'pydicom', 'pyx12', 'orjson', 'httpx.etl', 'etl.pipeline',"
        " 'etl.load.importer') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_dag_has_docs_tags_retries_owner(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 50, dag_id
        assert "fhirflow" in dag.tags, dag_id
        assert dag.default_args.get("retries", 0) >= 2, dag_id
        assert dag.default_args.get("owner") == "fhirflow", dag_id
        assert dag.max_active_runs == 1 and not dag.catchup, dag_id
        if "load" in dag.task_dict:  # HTTP faults are retried by the load's client, not again by Airflow
            assert dag.task_dict["load"].retries == 0, dag_id


def test_file_dag_shape(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["hl7v2_batches"]
    assert {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks} == {
        "claim": ["convert"], "convert": ["load", "settle"], "load": ["settle"], "settle": [],
    }
