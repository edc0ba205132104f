#!/usr/bin/env bash
# Run `airflow standalone` (SQLite, LocalExecutor) in the background for the demo and local use.
#
#   airflow.sh up   [--home DIR] [--port N]   start (or reuse); prints the UI URL last
#   airflow.sh down [--home DIR]              stop it
#
# Binds 127.0.0.1 only, parallelism 4 (the default 32 forks 32 workers: ~1.3 GB).
# Env passed through to tasks: FHIRFLOW_HOME, FHIRFLOW_FHIR_URL, FHIRFLOW_ID_SALT.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
HOME_DIR="${AIRFLOW_HOME:-$ROOT/var/demo/airflow}"
PORT="${AIRFLOW_PORT:-8088}"
BIN="${FHIRFLOW_VENV:-$ROOT/.venv}/bin"
CMD="${1:-}"; shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --home) HOME_DIR="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    *) echo "airflow.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
PID_FILE="$HOME_DIR/standalone.pid"
URL="http://127.0.0.1:$PORT"

export AIRFLOW_HOME="$HOME_DIR"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="$URL"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL=5
export PATH="$BIN:$PATH"

healthy() { curl -sf --max-time 5 "$URL/api/v2/monitor/health" >/dev/null 2>&1; }

case "$CMD" in
  up)
    mkdir -p "$HOME_DIR"
    if healthy; then echo "$URL"; exit 0; fi
    # setsid: its own process group, so `down` stops every child; SIGINT restored to default.
    setsid nohup "$BIN/python" -c 'import signal,sys; signal.signal(signal.SIGINT, signal.SIG_DFL); from airflow.__main__ import main; sys.argv=["airflow","standalone"]; main()' \
      >"$HOME_DIR/standalone.log" 2>&1 < /dev/null &
    echo $! > "$PID_FILE"
    for _ in $(seq 1 180); do
      if healthy; then echo "$URL"; exit 0; fi
      if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        echo "airflow.sh: standalone exited; last log lines:" >&2; tail -n 40 "$HOME_DIR/standalone.log" >&2; exit 1
      fi
      sleep 1
    done
    echo "airflow.sh: not healthy after 180 s; see $HOME_DIR/standalone.log" >&2; exit 1 ;;
  down)
    if [ -f "$PID_FILE" ]; then
      pid="$(cat "$PID_FILE")"
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$PID_FILE"
      echo "airflow.sh: stopped"
    else
      echo "airflow.sh: not running"
    fi ;;
  *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
