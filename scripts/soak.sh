#!/usr/bin/env bash
# Soak (docs/reliability.md): RELIABILITY_SOAK_CONNECTIONS (10000) WebSocket connections to
# a release build of the server for RELIABILITY_SOAK_SECS (1800) with steady traffic (each
# connection sends once every RELIABILITY_SOAK_SEND_SECS (10) to a conversation of 10).
# Prints RSS, connections alive, disconnects and delivery latency every 30 s; fails on an
# unexpected disconnect or RSS drift over 5 %. Not in CI.
#
#   scripts/soak.sh                                              # the documented form
#   RELIABILITY_SOAK_CONNECTIONS=2000 RELIABILITY_SOAK_SECS=180 scripts/soak.sh   # short
#
# Needs `ulimit -n` above twice the connection count (client and server share the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"
connections="${RELIABILITY_SOAK_CONNECTIONS:-10000}"
ulimit -n "$(( connections * 2 + 1000 ))" 2>/dev/null || true
if [ -z "${RELIABILITY_SOAK_BIN:-}" ]; then
  cargo build --locked --release --bin tidings
  export RELIABILITY_SOAK_BIN="$CARGO_TARGET_DIR/release/tidings"
fi
exec cargo test --locked --test reliability soak -- --ignored --nocapture
