"""Build the file-driven DAGs (``hl7v2_batches``, ``x12_claims``, ``ccda_documents``, …).

Each DAG has the same shape, so it is built here once and each file in ``dags/`` is three lines::

    claim ──> convert (mapped per batch) ──> load (mapped per batch) ──> settle

- ``claim`` moves landed files into the run's work folder (atomic; a retry re-uses them) and
  splits them into batches; mapping is per batch of files, never per file or message, so the
  scheduler stays healthy on big drops.
- ``convert`` writes ``staged/<fmt>/<day>/<run>/batch-NNN`` (a transaction: see
  :mod:`etl.stage.output`), partitioned by the run's data-interval day and kept for analysts, with
  the analyst tables (``parquet/<view>/``, param ``analyst_tables``; the analyst's own with param
  ``views``, checked by ``claim`` so a bad one fails the run at its start), then merges the batch
  into the current-state Delta tables ``<root>/lake/<table>/`` (param ``lake``; :mod:`etl.stage.lake`).
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


def _config(params: dict[str, Any], transaction_time: str | None, **extra: Any) -> Any:
    from pathlib import Path

    from etl.config import ImportConfig, JobConfig, Strictness

    return JobConfig(
        **extra,
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
        lake_root=str(Path(params["root"]) / "lake") if params.get("lake", True) else None,
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
    studies: bool = False,
) -> DAG:
    """A landing-folder → FHIR DAG for source format ``fmt``. ``studies`` (DICOM): the batches only
    record their instances, and one ``studies`` task after them emits each study the run touched,
    whole, so that two batches of one study cannot race each other's ``$import``::

        claim ──> convert (mapped) ──> studies ──> load (mapped: batches + studies) ──> settle
    """
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
        "lake": Param(True, type="boolean",
                      description="merge every batch into the current-state Delta tables <root>/lake/<table>/"),
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
            extra = {"dicom_defer_studies": run_id} if studies else {}
            return convert_batch(Path(params["root"]), fmt, run_id, day, batch, _config(params, tt, **extra))

        @task(task_id="studies")
        def studies_task(results: Any) -> list[dict[str, Any]]:
            from pathlib import Path

            from etl.flows.tasks import convert_studies

            params = get_current_context()["params"]
            run_id, day, tt = _run_key()
            return convert_studies(Path(params["root"]), fmt, run_id, day, list(results), _config(params, tt))

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
            # studies that could not be mapped (DICOM): their error records are in staged/…/studies
            moved["rejected_units"] += sum(int(r.get("rejected", 0)) for r in results if r.get("studies"))
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
        if studies:
            staged = studies_task(converted)
            loaded = load_task.expand(result=staged)
            settle_task(staged, loaded)
        else:
            loaded = load_task.expand(result=converted)
            settle_task(converted, loaded)
    return dag


def _window() -> tuple[str | None, str | None]:
    """The StudyDate window (inclusive ISO dates) of the current run: its data interval
    ``[start, end)``, so a daily run reads the studies dated on its day."""
    from datetime import timedelta as _td

    ctx = get_current_context()
    start = ctx.get("data_interval_start") or ctx.get("logical_date")
    end = ctx.get("data_interval_end") or start
    if start is None or end is None:
        return None, None
    last = end - _td(microseconds=1) if end > start else end
    return start.date().isoformat(), last.date().isoformat()


def build_dicomweb_dag(dag_id: str, *, schedule: str | None, doc_md: str, tags: list[str]) -> DAG:
    """A DICOMweb server → FHIR DAG: each run reads the studies whose StudyDate lies in its data
    interval (QIDO-RS + WADO-RS metadata, :mod:`etl.sources.dicom.dicomweb`), stages them in
    ``staged/dicomweb/<day>/<run>/batch-000`` and loads them::

        convert ──> load ──> check (fails the run if any unit was rejected)
    """
    params = {
        "root": Param(os.environ.get("FHIRFLOW_HOME", "/var/lib/fhirflow"), type="string",
                      description="root folder: staged/dicomweb/ and state.db live here"),
        "dicomweb_url": Param(os.environ.get("FHIRFLOW_DICOMWEB_URL", "http://127.0.0.1:8042/dicom-web"), type="string",
                              description="DICOMweb base URL (QIDO-RS and WADO-RS), e.g. http://pacs/dicom-web"),
        "fhir_url": Param(os.environ.get("FHIRFLOW_FHIR_URL", "http://127.0.0.1:8080/fhir"), type="string"),
        "id_salt": Param(os.environ.get("FHIRFLOW_ID_SALT", "fhirflow-default-salt"), type="string"),
        "strictness": Param("warn", enum=["ignore", "warn", "raise"]),
        "source_timezone": Param(os.environ.get("FHIRFLOW_SOURCE_TZ", ""), type="string"),
        "publish_host": Param(os.environ.get("FHIRFLOW_PUBLISH_HOST", "127.0.0.1"), type="string"),
        "advertise_host": Param(os.environ.get("FHIRFLOW_ADVERTISE_HOST", ""), type="string"),
        "state_url": Param(os.environ.get("FHIRFLOW_STATE") or None, type=["null", "string"],
                           description="run-state database URL (default: <root>/state.db, SQLite)"),
        "since": Param(None, type=["null", "string"], description="first StudyDate (YYYY-MM-DD; default: the run's data interval)"),
        "until": Param(None, type=["null", "string"], description="last StudyDate (default: the run's data interval)"),
        "max_retry_after_s": Param(30, type="number", minimum=0),
        "import_timeout_s": Param(3600, type="number", minimum=1),
    }
    with DAG(dag_id=dag_id, schedule=schedule, catchup=False, max_active_runs=1, tags=tags, doc_md=doc_md,
             params=params, default_args={"owner": "fhirflow", "retries": 3, "retry_delay": timedelta(seconds=30),
                                          "retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=10)}) as dag:

        @task(task_id="convert")
        def convert_task() -> dict[str, Any]:
            from pathlib import Path

            from etl.flows.tasks import convert_dicomweb

            p = get_current_context()["params"]
            run_id, day, tt = _run_key()
            since, until = _window()
            config = _config({**p, "duplicate_control": "convert"}, tt, dicom_since=p.get("since") or since,
                             dicom_until=p.get("until") or until)
            return convert_dicomweb(Path(p["root"]), p["dicomweb_url"], run_id, day, config)

        @task(task_id="load", retries=0)  # the load's client retries HTTP faults (see the file DAGs' load)
        def load_task(result: Any) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            from etl.errors import ConfigError, PermanentLoadError
            from etl.flows.tasks import load_batch

            try:
                return load_batch(result, _config(get_current_context()["params"], None))
            except (PermanentLoadError, ConfigError) as exc:
                raise AirflowFailException(str(exc)) from exc

        @task(task_id="check")
        def check_task(result: Any, loaded: Any) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            if result["rejected"]:
                raise AirflowFailException(f"{result['rejected']} unit(s) rejected; the error records are in "
                                           f"{result['out']}/errors/ (the rest was loaded)")
            return {"converted": result["succeeded"], "resources": result["resources"], "loaded": loaded.get("found", {})}

        converted = convert_task()
        check_task(converted, load_task(converted))
    return dag
