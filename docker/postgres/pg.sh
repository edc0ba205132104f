#!/usr/bin/env bash
# fhirflow's own PostgreSQL 15 for the run-state database tests (Debian's postgresql-15, no Docker).
#
#   pg.sh up   [--port N] [--data DIR]   start (or reuse) a server on 127.0.0.1; last stdout line = URL
#   pg.sh down [--port N] [--data DIR]   stop it
#   pg.sh url  [--port N]                print the URL if it answers, else exit 1
#
# Env: PG_PORT (55432), PG_DATA_DIR (<repo>/var/postgres-<port>). The cluster belongs to the
# `postgres` system user (PostgreSQL refuses to run as root), trusts local connections only and
# listens on 127.0.0.1 alone. Installs postgresql-15 from Debian's packages when it is missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${PG_PORT:-55432}"
DATA=""
DB=fhirflow

log() { echo "pg.sh: $*" >&2; }
die() { log "$*"; exit 1; }

CMD="${1:-}"
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --port) [ $# -ge 2 ] || die "--port needs a value"; PORT="$2"; shift 2 ;;
    --data) [ $# -ge 2 ] || die "--data needs a value"; DATA="$2"; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
case "$CMD" in up|down|url) ;; *) die "usage: pg.sh up|down|url [--port N] [--data DIR]" ;; esac
[[ "$PORT" =~ ^[0-9]+$ ]] || die "bad port: $PORT"
DATA="$(realpath -m -- "${DATA:-${PG_DATA_DIR:-$ROOT/var/postgres-$PORT}}")"
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"

bin_dir() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_installed() {
  bin_dir >/dev/null && id postgres >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "postgresql-15 is not installed and this is not root: apt-get install postgresql-15"
  log "installing postgresql-15 from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq --no-install-recommends postgresql-15 >&2
  # The package starts a cluster of its own on 5432: this project does not use it.
  command -v pg_ctlcluster >/dev/null && pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

answers() {
  "$(bin_dir)/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d "$DB" -U postgres 2>/dev/null
}

cmd_up() {
  ensure_installed
  local bin; bin="$(bin_dir)"
  if answers; then echo "$URL"; return 0; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
    chmod 700 "$DATA"
    as_pg "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  # Sockets in the data folder, TCP on 127.0.0.1 only; small, since CI has 2 cores.
  as_pg "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=40 -c shared_buffers=32MB -c fsync=off" >/dev/null \
    || { tail -20 "$DATA/server.log" >&2; die "PostgreSQL did not start"; }
  as_pg "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
    || as_pg "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  answers || die "PostgreSQL started but does not answer on 127.0.0.1:$PORT"
  echo "$URL"
}

cmd_down() {
  local bin; bin="$(bin_dir)" || return 0
  [ -f "$DATA/postmaster.pid" ] || return 0
  as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
}

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  url) answers && echo "$URL" ;;
esac
