#!/usr/bin/env bash
# Property-based API tests with schemathesis (PyPI) against the live binary, driven by
# /openapi.json: no 5xx and no response that breaks the schema, on SQLite and on Postgres,
# each run bounded in time.
#
#   scripts/schemathesis.sh                 # needs `cargo build` first
#
# Knobs: TIDINGS_BIN (default $CARGO_TARGET_DIR/debug/tidings), TIDINGS_ST_SECONDS (time budget
# per store, default 45), TIDINGS_ST_VENV (where schemathesis is installed),
# TIDINGS_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"
bin="${TIDINGS_BIN:-$CARGO_TARGET_DIR/debug/tidings}"
seconds="${TIDINGS_ST_SECONDS:-45}"
venv="${TIDINGS_ST_VENV:-$HOME/.cache/tidings/schemathesis-venv}"
pg="${TIDINGS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
version=4.32.5

if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  echo "schemathesis: installing $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

work=$(mktemp -d)
server_pid=""
pg_db=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

app_id=schemathesisApp000000001
master=schemathesisMaster000001

run_against() {
  local store=$1 url=$2 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  TIDINGS_LISTEN="127.0.0.1:$port" TIDINGS_DATABASE_URL="$url" TIDINGS_APP_ID=$app_id \
    TIDINGS_APP_KEY=schemathesisAppKey000001 TIDINGS_MASTER_KEY=$master RUST_LOG=warn \
    "$bin" >"$work/server-$store.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "== schemathesis on $store (${seconds}s)"
  local status=0
  timeout --kill-after=10 $((seconds + 60)) "$venv/bin/schemathesis" run \
    "http://127.0.0.1:$port/openapi.json" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --header "X-LC-Id: $app_id" --header "X-LC-Key: $master,master" \
    --phases examples,coverage,fuzzing --max-time "$seconds" --max-examples 25 \
    --request-timeout 10 --seed 18 --generation-database none \
    --generation-with-security-parameters false --no-color || status=$?
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [ "$status" -ne 0 ]; then
    echo "schemathesis failed on $store (exit $status); server log tail:"
    tail -30 "$work/server-$store.log"
    return "$status"
  fi
}

run_against sqlite "sqlite://$work/schemathesis.db"
pg_db="tidings_st_$$"
psql "$pg/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
run_against postgres "$pg/$pg_db"
echo "schemathesis: no server error and no schema violation on sqlite and postgres"
