#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests on SQLite and Postgres, then the
# official-SDK suite (leancloud-realtime 4.3.1 and 5.0.0-rc.8) against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"

scripts/services.sh
# The S3 file tests run against a local S3-compatible server (moto); they fail without it.
if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install --quiet 'moto[server]'
fi
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is required for the S3 file tests" >&2; exit 1; }
cargo test --locked --all-targets
cargo build --locked
TIDINGS_BIN="$CARGO_TARGET_DIR/debug/tidings" tests/sdk/run.sh
# The same SDK suite against Postgres (a fresh database per run, dropped afterwards).
TIDINGS_BIN="$CARGO_TARGET_DIR/debug/tidings" \
  TIDINGS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres tests/sdk/run.sh
