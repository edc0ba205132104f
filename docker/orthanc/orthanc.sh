#!/usr/bin/env bash
# fhirflow's own Orthanc with its DICOMweb plugin, for the DICOMweb tests (Debian's packages, no Docker).
#
#   orthanc.sh install                                  apt-get install orthanc orthanc-dicomweb if missing
#   orthanc.sh up   [--http-port N] [--dicom-port M] [--data DIR]   start (or reuse); last stdout line = DICOMweb URL
#   orthanc.sh down [--http-port N] [--data DIR]        stop it
#   orthanc.sh url  [--http-port N]                     print the DICOMweb URL if it answers, else exit 1
#
# Env: ORTHANC_HTTP_PORT (8042), ORTHANC_DICOM_PORT (4242), ORTHANC_DATA_DIR (<repo>/var/orthanc-<port>).
# Its configuration, database and storage live in the data folder; the Debian service's own
# configuration (/etc/orthanc) is not used. Remote access is off (only 127.0.0.1 may connect over
# HTTP), there is no authentication, and the DICOM listener is disabled where Orthanc allows it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
HTTP_PORT="${ORTHANC_HTTP_PORT:-8042}"
DICOM_PORT="${ORTHANC_DICOM_PORT:-4242}"
DATA=""
PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
START_TIMEOUT="${ORTHANC_START_TIMEOUT:-60}"

log() { echo "orthanc.sh: $*" >&2; }
die() { log "$*"; exit 1; }

CMD="${1:-}"
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --http-port) [ $# -ge 2 ] || die "--http-port needs a value"; HTTP_PORT="$2"; shift 2 ;;
    --dicom-port) [ $# -ge 2 ] || die "--dicom-port needs a value"; DICOM_PORT="$2"; shift 2 ;;
    --data) [ $# -ge 2 ] || die "--data needs a value"; DATA="$2"; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
case "$CMD" in install|up|down|url) ;; *) die "usage: orthanc.sh install|up|down|url [--http-port N] [--dicom-port M] [--data DIR]" ;; esac
[[ "$HTTP_PORT" =~ ^[0-9]+$ && "$DICOM_PORT" =~ ^[0-9]+$ ]] || die "bad port: $HTTP_PORT / $DICOM_PORT"
DATA="$(realpath -m -- "${DATA:-${ORTHANC_DATA_DIR:-$ROOT/var/orthanc-$HTTP_PORT}}")"
URL="http://127.0.0.1:$HTTP_PORT/dicom-web"

installed() { command -v Orthanc >/dev/null && [ -f "$PLUGIN" ]; }

cmd_install() {
  installed && return 0
  [ "$(id -u)" = 0 ] || die "orthanc and orthanc-dicomweb are not installed and this is not root: apt-get install orthanc orthanc-dicomweb"
  log "installing orthanc and orthanc-dicomweb from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq --no-install-recommends orthanc orthanc-dicomweb >&2
  installed || die "orthanc installed, but Orthanc or $PLUGIN is missing"
}

answers() { curl -fsS -m 5 "http://127.0.0.1:$HTTP_PORT/system" >/dev/null 2>&1; }

cmd_up() {
  cmd_install
  if answers; then echo "$URL"; return 0; fi
  mkdir -p "$DATA/db"
  cat > "$DATA/orthanc.json" <<JSON
{
  "Name": "fhirflow-test-$HTTP_PORT",
  "StorageDirectory": "$DATA/db",
  "IndexDirectory": "$DATA/db",
  "HttpPort": $HTTP_PORT,
  "DicomPort": $DICOM_PORT,
  "DicomServerEnabled": false,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "HttpServerEnabled": true,
  "ConcurrentJobs": 1,
  "HttpThreadsCount": 8,
  "Plugins": ["$PLUGIN"],
  "DicomWeb": {"Enable": true, "Root": "/dicom-web/", "EnableWado": true, "StudiesMetadata": "Full",
               "SeriesMetadata": "Full"}
}
JSON
  setsid Orthanc "$DATA/orthanc.json" >"$DATA/orthanc.log" 2>&1 < /dev/null &
  echo $! > "$DATA/orthanc.pid"
  local waited=0
  until answers; do
    kill -0 "$(cat "$DATA/orthanc.pid")" 2>/dev/null || { tail -20 "$DATA/orthanc.log" >&2; die "Orthanc exited"; }
    [ "$waited" -lt "$START_TIMEOUT" ] || { tail -20 "$DATA/orthanc.log" >&2; die "Orthanc did not answer in ${START_TIMEOUT}s"; }
    sleep 1; waited=$((waited + 1))
  done
  curl -fsS -m 5 "$URL/studies" >/dev/null || die "Orthanc answers, but its DICOMweb plugin does not ($URL)"
  log "up after ${waited}s (pid $(cat "$DATA/orthanc.pid"))"
  echo "$URL"
}

cmd_down() {
  [ -f "$DATA/orthanc.pid" ] || return 0
  local pid; pid="$(cat "$DATA/orthanc.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  fi
  rm -f "$DATA/orthanc.pid"
}

case "$CMD" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  url) answers && echo "$URL" ;;
esac
