#!/usr/bin/env bash
# fhirflow local HAPI FHIR server (R4, H2 on disk, bulk $import) -- no Docker needed.
#
#   hapi.sh build                          build target/fhirflow-hapi.jar if missing/stale
#   hapi.sh up   [--port N] [--data DIR] [--profile fast|throughput] [--db h2|postgresql] [--pg-port N]
#                [--auth-jwks FILE --auth-client-id ID]  (auth mode: SMART Backend Services tokens required)
#                                          start (or reuse) a server; last stdout line = base URL
#   hapi.sh down [--port N]                stop the server started for that port (and its PostgreSQL)
#   hapi.sh status [--port N]              print base URL if it answers, else exit 1
#
# Env: HAPI_PORT (8080), HAPI_DATA_DIR (<this dir>/data), HAPI_PROFILE (fast), HAPI_DB (h2),
#      HAPI_PG_PORT (port + 40000), HAPI_JAVA_OPTS (overrides the profile's JVM flags), HAPI_ARGS
#      (more --key=value for the server), HAPI_START_TIMEOUT (240 s). Progress goes to stderr;
#      stdout only carries the URL.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JAR="$HERE/target/fhirflow-hapi.jar"
RUN_DIR="$HERE/run"
PORT="${HAPI_PORT:-8080}"
DATA="${HAPI_DATA_DIR:-$HERE/data}"
PROFILE="${HAPI_PROFILE:-fast}"
DB="${HAPI_DB:-h2}"
PG_PORT_HAPI="${HAPI_PG_PORT:-}"
START_TIMEOUT="${HAPI_START_TIMEOUT:-240}"
AUTH_ARGS=()  # up --auth-jwks/--auth-client-id: SmartAuthConfig (token endpoint + bearer interceptor)
# JVM flags per profile. fast: quick start-up for tests (C1 JIT only, small serial-GC heap): ~30 s
# to the first answer on 2 cores. throughput: long loads (full C2 JIT, 2 GB heap, parallel GC):
# a slower start-up, a faster server once warm (docs/benchmarks.md).
PROFILE_FAST="-Xms256m -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
PROFILE_THROUGHPUT="-Xms1g -Xmx2g -XX:+UseParallelGC -XX:+AlwaysPreTouch"

log() { echo "hapi.sh: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) [ $# -ge 2 ] || die "--port needs a value"; PORT="$2"; shift 2 ;;
      --port=*) PORT="${1#*=}"; shift ;;
      --data) [ $# -ge 2 ] || die "--data needs a value"; DATA="$2"; shift 2 ;;
      --data=*) DATA="${1#*=}"; shift ;;
      --profile) [ $# -ge 2 ] || die "--profile needs a value"; PROFILE="$2"; shift 2 ;;
      --profile=*) PROFILE="${1#*=}"; shift ;;
      --db) [ $# -ge 2 ] || die "--db needs a value"; DB="$2"; shift 2 ;;
      --db=*) DB="${1#*=}"; shift ;;
      --pg-port) [ $# -ge 2 ] || die "--pg-port needs a value"; PG_PORT_HAPI="$2"; shift 2 ;;
      --pg-port=*) PG_PORT_HAPI="${1#*=}"; shift ;;
      --auth-jwks) [ $# -ge 2 ] || die "--auth-jwks needs a file"; AUTH_ARGS+=("--fhirflow.auth.jwks=$(realpath -- "$2")"); shift 2 ;;
      --auth-client-id) [ $# -ge 2 ] || die "--auth-client-id needs a value"; AUTH_ARGS+=("--fhirflow.auth.client-id=$2"); shift 2 ;;
      -h|--help) usage ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "bad port: $PORT"
  DATA="$(realpath -m -- "$DATA")"
  BASE_URL="http://127.0.0.1:$PORT/fhir"
  PID_FILE="$RUN_DIR/hapi-$PORT.pid"
  PG_FILE="$RUN_DIR/hapi-$PORT.pg"  # "PGPORT PGDATA" of the PostgreSQL this server was started on
  case "$PROFILE" in
    fast) JAVA_OPTS="${HAPI_JAVA_OPTS:-$PROFILE_FAST}" ;;
    throughput) JAVA_OPTS="${HAPI_JAVA_OPTS:-$PROFILE_THROUGHPUT}" ;;
    *) die "unknown profile: $PROFILE (fast|throughput)" ;;
  esac
  case "$DB" in h2|postgresql) ;; *) die "unknown database: $DB (h2|postgresql)" ;; esac
  [ -n "$PG_PORT_HAPI" ] || PG_PORT_HAPI=$((PORT + 40000))
  [[ "$PG_PORT_HAPI" =~ ^[0-9]+$ ]] && [ "$PG_PORT_HAPI" -le 65535 ] || die "bad PostgreSQL port: $PG_PORT_HAPI"
}

# PostgreSQL for this server (docker/postgres/pg.sh: Debian's postgresql-15, its own cluster in
# DATA/pg); prints the JDBC URL.
start_postgres() {
  local url
  url="$(bash "$HERE/../postgres/pg.sh" up --port "$PG_PORT_HAPI" --data "$DATA/pg" | tail -n 1)" \
    || die "could not start PostgreSQL on port $PG_PORT_HAPI"
  echo "$PG_PORT_HAPI $DATA/pg" >"$PG_FILE"
  # pg.sh prints a SQLAlchemy URL (postgresql+psycopg://postgres@host:port/db): the JDBC one is the same place
  echo "jdbc:postgresql://${url#*@}"
}

stop_postgres() {
  [ -f "$PG_FILE" ] || return 0
  local port dir
  read -r port dir <"$PG_FILE" || true
  if [ -n "${port:-}" ] && [ -n "${dir:-}" ]; then
    log "stopping its PostgreSQL (port $port)"
    bash "$HERE/../postgres/pg.sh" down --port "$port" --data "$dir" >&2 || true
  fi
  rm -f "$PG_FILE"
}

# 0 if GET $BASE_URL/metadata answers 200
server_answers() {
  if command -v curl >/dev/null 2>&1; then
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/metadata" 2>/dev/null)"
    # in auth mode the FHIR endpoint answers 401 without a token: that is up
    [ "$code" = "200" ] || { [ ${#AUTH_ARGS[@]} -gt 0 ] && [ "$code" = "401" ]; }
  else
    python3 - "$BASE_URL/metadata" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
EOF
  fi
}

# 0 if something accepts TCP connections on 127.0.0.1:$PORT
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# pid from the pid file if that process is alive and is our server
running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'fhirflow-hapi.jar' || return 1
  echo "$pid"
}

needs_build() {
  [ -f "$JAR" ] || return 0
  [ -n "$(find "$HERE/pom.xml" "$HERE/src" -type f -newer "$JAR" -print -quit)" ]
}

cmd_build() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/build.lock"
  flock 9
  if needs_build; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed to build $JAR)"
    log "building $JAR (first build downloads HAPI FHIR from Maven Central; takes a few minutes)"
    local t0=$SECONDS
    mvn -B -q -f "$HERE/pom.xml" package -DskipTests >&2 || die "maven build failed"
    [ -f "$JAR" ] || die "build finished but $JAR is missing"
    touch "$JAR"
    log "built in $((SECONDS - t0))s"
  fi
  exec 9>&-
}

wait_until_up() {
  local pid="$1" logf="$2" deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if server_answers; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server process $pid exited during startup; last log lines ($logf):"
      tail -n 40 "$logf" >&2 || true
      rm -f "$PID_FILE"
      return 1
    fi
    sleep 1
  done
  log "server did not answer $BASE_URL/metadata within ${START_TIMEOUT}s; last log lines ($logf):"
  tail -n 40 "$logf" >&2 || true
  stop_pid "$pid"
  return 1
}

cmd_up() {
  command -v java >/dev/null 2>&1 || die "java not found (Java 17+ needed)"
  if server_answers; then
    log "a server already answers on port $PORT"
    echo "$BASE_URL"
    return 0
  fi
  mkdir -p "$RUN_DIR" "$DATA"
  local logf="$DATA/hapi.log" pid
  if pid="$(running_pid)"; then
    log "server (pid $pid) is still starting; waiting"
  else
    if port_in_use; then
      die "port $PORT is in use by another program (it does not answer $BASE_URL/metadata)"
    fi
    cmd_build
    local db_args=(--fhirflow.db="$DB")
    if [ "$DB" = postgresql ]; then
      db_args+=(--fhirflow.db-url="$(start_postgres)")
    fi
    log "starting HAPI FHIR on $BASE_URL (profile $PROFILE, $DB, data: $DATA, log: $logf)"
    # Detach into its own session (setsid) so the server outlives the caller's process group
    # (job runners often kill a whole group); the launched shell writes its own pid, then execs java.
    local detach=()
    command -v setsid >/dev/null 2>&1 && detach=(setsid)
    rm -f "$PID_FILE"
    # shellcheck disable=SC2086,SC2016  # JAVA_OPTS is a list of options; $$ is for the inner shell
    "${detach[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' hapi-launch "$PID_FILE" \
      nohup java $JAVA_OPTS -jar "$JAR" \
      --server.address=127.0.0.1 --server.port="$PORT" --fhirflow.data-dir="$DATA" "${db_args[@]}" \
      ${AUTH_ARGS[@]+"${AUTH_ARGS[@]}"} ${HAPI_ARGS:-} >>"$logf" 2>&1 </dev/null &
    local i
    for i in $(seq 1 100); do
      [ -s "$PID_FILE" ] && break
      sleep 0.1
    done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "could not start java (see $logf)"
  fi
  local t0=$SECONDS
  wait_until_up "$pid" "$logf" || exit 1
  log "up after $((SECONDS - t0))s (pid $pid)"
  echo "$BASE_URL"
}

stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored TERM for 30s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

cmd_down() {
  local pid
  if pid="$(running_pid)"; then
    log "stopping server on port $PORT (pid $pid)"
    stop_pid "$pid"
  else
    rm -f "$PID_FILE"
    log "no server started by hapi.sh is running on port $PORT"
  fi
  stop_postgres
}

cmd_status() {
  if server_answers; then
    echo "$BASE_URL"
  else
    log "nothing answers on $BASE_URL/metadata"
    return 1
  fi
}

[ $# -ge 1 ] || usage
cmd="$1"; shift
case "$cmd" in
  build) [ $# -eq 0 ] || die "build takes no arguments"; cmd_build ;;
  up) parse_args "$@"; cmd_up ;;
  down) parse_args "$@"; cmd_down ;;
  status) parse_args "$@"; cmd_status ;;
  -h|--help|help) usage ;;
  *) die "unknown command: $cmd (build|up|down|status)" ;;
esac
