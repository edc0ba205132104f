"""`make demo`: the main job end to end on the embedded default.

Starts HAPI FHIR (docker/hapi/hapi.sh) and `airflow standalone` (docker/airflow/airflow.sh, SQLite,
127.0.0.1), drops bundled samples into the landing folders — HL7 v2 messages and batches, and a
payer's X12 day: an 837P claim file, an 835 remittance and an 834 enrollment — unpauses and triggers
the `hl7v2_batches` and `x12_claims` DAGs through Airflow's REST API, waits for them, and prints what
the FHIR server holds. `--stop` stops both services.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "demo"
DATA = VAR / "data"
HAPI_PORT = int(os.environ.get("HAPI_PORT", "8080"))
AIRFLOW_PORT = int(os.environ.get("AIRFLOW_PORT", "8088"))
FHIR = f"http://127.0.0.1:{HAPI_PORT}/fhir"
AIRFLOW = f"http://127.0.0.1:{AIRFLOW_PORT}"
SAMPLES = ROOT / "tests" / "data"
# (DAG, landing format, sample files under tests/data/<format>/)
JOBS = [
    ("hl7v2_batches", "hl7v2", [
        "fhir-converter/ADT-A01-01.hl7", "fhir-converter/ADT-A03-01.hl7", "fhir-converter/ADT-A04-01.hl7",
        "fhir-converter/ADT-A08-01.hl7", "fhir-converter/ORU-R01-01.hl7", "fhir-converter/LAB-ORU-1.hl7",
        "fhir-converter/LRI_2.0-NG_CBC_Typ_Message.hl7", "python-hl7/sample_batch1.hl7",
        "python-hl7/sample_file1.hl7", "cdc-data-exchange-hl7/phlip-flu-batch.hl7"]),
    # three distinct interchanges: an 837P, an 835 and an 834
    ("x12_claims", "x12", [
        "837P/uhin-x12-parser/837.edi", "835/linuxforhealth-x12/secondary-payment.835",
        "834/pyx12/834_deident_family.txt"]),
]
TYPES = ["Patient", "Encounter", "DiagnosticReport", "Observation", "Claim", "ExplanationOfBenefit",
         "PaymentReconciliation", "Coverage", "RelatedPerson", "Organization", "Practitioner"]


def say(msg: str) -> None:
    print(f"demo: {msg}", flush=True)


def sh(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"demo: {' '.join(args[:3])} failed")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def stop() -> None:
    subprocess.run(["bash", "docker/airflow/airflow.sh", "down", "--home", str(VAR / "airflow")], cwd=ROOT)
    subprocess.run(["bash", "docker/hapi/hapi.sh", "down", "--port", str(HAPI_PORT)], cwd=ROOT)


def token(client: httpx.Client) -> str:
    pw_file = VAR / "airflow" / "simple_auth_manager_passwords.json.generated"
    password = json.loads(pw_file.read_text())["admin"]
    r = client.post(f"{AIRFLOW}/auth/token", json={"username": "admin", "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stop", action="store_true", help="stop the demo's HAPI and Airflow")
    args = parser.parse_args()
    if args.stop:
        stop()
        return 0

    say("starting HAPI FHIR (first start builds nothing more and takes ~30-60 s)…")
    fhir = sh("bash", "docker/hapi/hapi.sh", "up", "--port", str(HAPI_PORT))
    say(f"HAPI FHIR is up at {fhir}")

    env = dict(os.environ, FHIRFLOW_HOME=str(DATA), FHIRFLOW_FHIR_URL=FHIR, FHIRFLOW_ID_SALT="fhirflow-demo")
    say("starting airflow standalone (SQLite, 127.0.0.1)…")
    ui = sh("bash", "docker/airflow/airflow.sh", "up", "--home", str(VAR / "airflow"), "--port", str(AIRFLOW_PORT), env=env)
    say(f"Airflow is up at {ui}")

    for _, fmt, files in JOBS:
        landing = DATA / "landing" / fmt
        landing.mkdir(parents=True, exist_ok=True)
        for rel in files:
            # Producers must land files atomically: copy under a hidden name, then rename.
            tmp = landing / f".{Path(rel).name}"
            shutil.copyfile(SAMPLES / fmt / rel, tmp)
            tmp.rename(landing / Path(rel).name)
        say(f"dropped {len(files)} {fmt} files into {landing}")

    states: dict[str, str] = {}
    with httpx.Client(timeout=30) as client:
        headers = {"Authorization": f"Bearer {token(client)}"}
        runs = {dag_id: trigger(client, headers, dag_id) for dag_id, _, _ in JOBS}
        for dag_id, run_id in runs.items():
            states[dag_id] = wait(client, headers, dag_id, run_id)
            say(f"{dag_id} run {run_id}: {states[dag_id]}")
        print("\nResources on the FHIR server (counted by HAPI):")
        for rtype in TYPES:
            total = client.get(f"{FHIR}/{rtype}", params={"_summary": "count"}).json().get("total", 0)
            print(f"  {rtype:<22} {total:>6}")
    pw = json.loads((VAR / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    print(f"\nAirflow UI:   {ui}   (login: admin / {pw})")
    print(f"FHIR server:  {FHIR}")
    print(f"Archive:      {DATA / 'archive'}/<format>/<day>/")
    staged = DATA / "staged"
    print(f"Parquet:      {staged}/<format>/<day>/<run>/batch-*/parquet/<ResourceType>/")
    queries = [
        f"select code_display, value_quantity, value_unit from "
        f"'{staged}/hl7v2/*/*/batch-*/parquet/Observation/*.parquet' where value_quantity is not null limit 10",
        f"select * exclude (resource) from '{staged}/x12/*/*/batch-*/parquet/Claim/*.parquet' limit 10",
    ]
    for i, query in enumerate(queries):
        print(f"{'Try:' if i == 0 else '':<14}.venv/bin/python -c \"import duckdb; print(duckdb.sql(\\\"{query}\\\"))\"")
    print("Stop:         make demo-stop")
    return 0 if all(s == "success" for s in states.values()) else 1


def trigger(client: httpx.Client, headers: dict[str, str], dag_id: str) -> str:
    """Unpause ``dag_id`` once the DAG processor has parsed it, and start a run; its run id."""
    for _ in range(120):  # the DAG processor parses dags/ every few seconds
        if client.get(f"{AIRFLOW}/api/v2/dags/{dag_id}", headers=headers).status_code == 200:
            break
        time.sleep(1)
    else:
        raise SystemExit(f"demo: Airflow did not load {dag_id}; see {VAR}/airflow/standalone.log")
    client.patch(f"{AIRFLOW}/api/v2/dags/{dag_id}", headers=headers, json={"is_paused": False}).raise_for_status()
    conf = {"root": str(DATA), "fhir_url": FHIR, "id_salt": "fhirflow-demo", "max_retry_after_s": 3}
    r = client.post(f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns", headers=headers, json={"logical_date": None, "conf": conf})
    r.raise_for_status()
    run_id = str(r.json()["dag_run_id"])
    say(f"triggered {dag_id} run {run_id}; waiting…")
    return run_id


def wait(client: httpx.Client, headers: dict[str, str], dag_id: str, run_id: str) -> str:
    """The final state of a run (success or failed), polled every 2 s for up to 20 minutes."""
    state = ""
    for _ in range(600):
        state = str(client.get(f"{AIRFLOW}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=headers).json()["state"])
        if state in ("success", "failed"):
            break
        time.sleep(2)
    return state


if __name__ == "__main__":
    raise SystemExit(main())
