"""Build the file-driven DAGs (``hl7v2_batches``, ``x12_claims``, ``ccda_documents``, …).

Each DAG has the same shape, so it is built here once and each file in ``dags/`` is three lines::

    claim ──> convert (mapped per batch) ──> load (mapped per batch) ──> settle

- ``claim`` moves landed files into the run's work folder (atomic; a retry re-uses them) and
  splits them into batches; mapping is per batch of files, never per file or message, so the
  scheduler stays healthy on big drops.
- ``convert`` writes ``staged/<fmt>/<day>/<run>/batch-NNN`` (a transaction: see
  :mod:`etl.stage.output`), partitioned by the run's data-interval day and kept for analysts.
- ``load`` runs ``$import``; its client retries transient HTTP faults (one policy, in
  :mod:`etl.load.http`) and the task itself has ``retries=0``; permanent faults fail at once
  (``AirflowFailException``); a re-run resumes the open job from its receipt.
- ``settle`` archives clean inputs, quarantines those with rejected units (next to their error
  records) and sets aside in ``duplicates/`` those whose every interchange was skipped as already
  loaded, then **fails the run** if anything was rejected, so the Airflow UI shows it (skips are in
  its return value and log).

Settings come from DAG params (defaults from the environment when the DAG file is parsed:
``FHIRFLOW_HOME``, ``FHIRFLOW_FHIR_URL``, ``FHIRFLOW_ID_SALT``); task bodies build one
:class:`etl.config.JobConfig` from them. Nothing heavy is imported at parse time.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task


def _config(params: dict[str, Any], transaction_time: str | None) -> Any:
    from pathlib import Path

    from etl.config import ImportConfig, JobConfig, Strictness

    return JobConfig(
        # One run-state database per root (etl.state): the X12 ledger detects re-sends across runs,
        # and the load receipts say which batches are on the server.
        state_url=params.get("state_url") or str(Path(params["root"]) / "state.db"),
        id_salt=params["id_salt"],
        strictness=Strictness(params["strictness"]),
        duplicate_control=params.get("duplicate_control") or "convert",
        transaction_time=transaction_time,
        source_timezone=params.get("source_timezone") or None,
        analyst_tables=bool(params.get("analyst_tables", True)),
        user_views=tuple(p for p in str(params.get("views") or "").split(os.pathsep) if p),
        load=ImportConfig(fhir_url=params["fhir_url"], max_retry_after_s=float(params["max_retry_after_s"]),
                          timeout_s=float(params["import_timeout_s"]), publish_host=params["publish_host"],
                          advertise_host=params.get("advertise_host") or None,
                          dialect=params.get("dialect") or "hapi", bundle_size=int(params.get("bundle_size") or 500),
                          concurrency=int(params.get("load_concurrency") or 2),
                          # a deployment's choice, not a run's: only the environment can open the publisher
                          publish_allow_remote=os.environ.get("FHIRFLOW_PUBLISH_ALLOW_REMOTE") == "1"),
    )


def _run_key() -> tuple[str, str, str | None]:
    """(run id, partition day, transaction time) of the current run, from its data interval."""
    ctx = get_current_context()
    run_id = str(ctx["run_id"])
    start = ctx.get("data_interval_start") or ctx.get("logical_date")
    end = ctx.get("data_interval_end") or start
    day = start.strftime("%Y-%m-%d") if start is not None else run_id
    return run_id, day, end.isoformat() if end is not None else None


def build_file_dag(
    dag_id: str,
    fmt: str,
    *,
    schedule: str | None,
    doc_md: str,
    tags: list[str],
) -> DAG:
    """A landing-folder → FHIR DAG for source format ``fmt``."""
    default_params = {
        "root": Param(os.environ.get("FHIRFLOW_HOME", "/var/lib/fhirflow"), type="string",
                      description="root folder with landing/, work/, archive/, quarantine/"),
        "fhir_url": Param(os.environ.get("FHIRFLOW_FHIR_URL", "http://127.0.0.1:8080/fhir"), type="string"),
        "id_salt": Param(os.environ.get("FHIRFLOW_ID_SALT", "fhirflow-default-salt"), type="string"),
        "strictness": Param("warn", enum=["ignore", "warn", "raise"]),
        "duplicate_control": Param("convert", enum=["convert", "reject"],
                                   description="X12: an ISA13 reused with other content: convert it with a "
                                               "warning, or reject it (TA1 025)"),
        "source_timezone": Param(os.environ.get("FHIRFLOW_SOURCE_TZ", ""), type="string"),
        "publish_host": Param(os.environ.get("FHIRFLOW_PUBLISH_HOST", "127.0.0.1"), type="string",
                              description="address the load task serves NDJSON on for the FHIR server to pull"),
        "advertise_host": Param(os.environ.get("FHIRFLOW_ADVERTISE_HOST", ""), type="string",
                                description="host name the FHIR server reaches the load task by (containers)"),
        "state_url": Param(os.environ.get("FHIRFLOW_STATE") or None, type=["null", "string"],
                           description="run-state database URL (default: <root>/state.db, SQLite); "
                                       "PostgreSQL for workers on several hosts"),
        "batch_files": Param(50, type="integer", minimum=1),
        "analyst_tables": Param(True, type="boolean",
                                description="stage the shipped analyst tables (claim_item, eob_total, ...) per batch"),
        "views": Param(os.environ.get("FHIRFLOW_VIEWS", ""), type="string",
                       description="your own ViewDefinitions: folders or files (separated by ':'), staged per batch"),
        "max_retry_after_s": Param(30, type="number", minimum=0),
        "import_timeout_s": Param(3600, type="number", minimum=1),
        "dialect": Param(os.environ.get("FHIRFLOW_DIALECT", "hapi"), enum=["hapi", "transaction", "batch"],
                         description="how the load task loads: $import (hapi), or transaction / batch "
                                     "Bundles of PUTs for servers without $import"),
        "bundle_size": Param(500, type="integer", minimum=1, description="transaction/batch: PUTs per Bundle"),
        "load_concurrency": Param(2, type="integer", minimum=1, description="transaction/batch: Bundles in flight"),
    }
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        catchup=False,
        max_active_runs=1,
        tags=tags,
        doc_md=doc_md,
        params=default_params,
        default_args={
            "owner": "fhirflow",
            "retries": 3,
            "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=10),
        },
    ) as dag:

        @task(task_id="claim")
        def claim_task() -> list[dict[str, Any]]:
            from pathlib import Path

            from airflow.sdk.exceptions import AirflowFailException

            from etl.errors import ConfigError
            from etl.flows.tasks import claim_batches
            from etl.stage.tables import table_views

            params = get_current_context()["params"]
            try:  # a bad view fails the run at its start, before any file is claimed
                table_views(_config(params, None))
            except ConfigError as exc:
                raise AirflowFailException(str(exc)) from exc
            run_id, _, _ = _run_key()
            return claim_batches(Path(params["root"]), fmt, run_id, max_files=int(params["batch_files"]))

        @task(task_id="convert")
        def convert_task(batch: dict[str, Any]) -> dict[str, Any]:
            from pathlib import Path

            from etl.flows.tasks import convert_batch

            params = get_current_context()["params"]
            run_id, day, tt = _run_key()
            return convert_batch(Path(params["root"]), fmt, run_id, day, batch, _config(params, tt))

        # retries=0: the load's HTTP faults are retried by its client (etl.load.http.Sender, one
        # tenacity policy); a retried task would stack Airflow's retries on top. A cleared or re-run
        # load task resumes the open $import job from its receipt (etl.load.resume), never re-imports.
        @task(task_id="load", retries=0)
        def load_task(result: dict[str, Any]) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            from etl.errors import ConfigError, PermanentLoadError
            from etl.flows.tasks import load_batch

            params = get_current_context()["params"]
            try:
                return load_batch(result, _config(params, None))
            except (PermanentLoadError, ConfigError) as exc:
                raise AirflowFailException(str(exc)) from exc

        @task(task_id="settle")
        def settle_task(results: Any, loaded: Any) -> dict[str, Any]:
            from pathlib import Path

            from airflow.sdk.exceptions import AirflowFailException

            from etl.flows.landing import cleanup_run
            from etl.flows.tasks import settle_inputs

            params = get_current_context()["params"]
            run_id, day, _ = _run_key()
            root = Path(params["root"])
            from etl.state import open_state

            state = open_state(_config(params, None))  # where each original went, by content hash
            try:
                moved = settle_inputs(root, fmt, run_id, day, list(results), state)
            finally:
                if state is not None:
                    state.close()
            cleanup_run(root, fmt, run_id)
            if moved["rejected_units"]:
                raise AirflowFailException(
                    f"{moved['rejected_units']} unit(s) rejected in {moved['quarantined']} file(s); "
                    f"inputs and error records are in quarantine/{fmt}/{day}/ (the rest was loaded)")
            refused = [r for r in loaded if r.get("rejected")]
            if refused:  # transaction/batch dialects: the server refused some resources
                raise AirflowFailException(
                    f"the FHIR server refused {sum(sum(r['rejected'].values()) for r in refused)} resource(s); "
                    "error records: " + ", ".join(f"{r['out']}/{r['errors_file']}" for r in refused)
                    + " (the rest was loaded)")
            return moved

        batches = claim_task()
        converted = convert_task.expand(batch=batches)
        loaded = load_task.expand(result=converted)
        settle_task(converted, loaded)
    return dag
