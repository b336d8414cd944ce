#!/usr/bin/env bash
# The reliability suite (docs/reliability.md).
#
#   scripts/reliability.sh            bounded form, what CI runs: the fault tests
#                                     (`cargo test --test reliability`, both stores: SIGKILL
#                                     3 times per store, Postgres stopped mid-load, a slow
#                                     consumer in a 50-member room, slowloris, caps, input)
#                                     and each fuzz target for RELIABILITY_FUZZ_SECS (20) s
#   scripts/reliability.sh fuzz       the fuzz part of the bounded form only; fails on a crash
#   scripts/reliability.sh long       the long forms: 20 SIGKILLs per store, a 1,000-member
#                                     room with the 20 % p99 bound (release build), slowloris
#                                     with 10,000 connections, every fuzz target for
#                                     RELIABILITY_FUZZ_RUNS (10,000,000) executions
#   scripts/soak.sh                   the soak (10,000 connections for 30 minutes)
#
# Fuzzing needs the nightly toolchain and cargo-fuzz (installed here when missing). The fuzz
# build lives in $CARGO_TARGET_DIR/fuzz, outside the clone. A crash leaves its input in
# fuzz/artifacts/TARGET/ and fails the run; make it a regression test before fixing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tidings/target}"
mode="${1:-bounded}"
targets=(frame_binary frame_base64 json_body where_translator)

fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
  fi
  for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== fuzz $target $*"
    # -print_final_stats: the execution count goes into the log (docs/reliability.md "Runs").
    cargo +nightly fuzz run --target-dir "$CARGO_TARGET_DIR/fuzz" "$target" \
      "fuzz/corpus/$target" -- -print_final_stats=1 "$@"
  done
}

case "$mode" in
  bounded)
    cargo test --locked --test reliability
    fuzz -max_total_time="${RELIABILITY_FUZZ_SECS:-20}"
    ;;
  fuzz)
    fuzz -max_total_time="${RELIABILITY_FUZZ_SECS:-20}"
    ;;
  long)
    RELIABILITY_KILLS="${RELIABILITY_KILLS:-20}" \
      cargo test --locked --test reliability kill -- --nocapture
    RELIABILITY_ROOM_MEMBERS=1000 RELIABILITY_ROOM_SECS=30 RELIABILITY_ROOM_P99_RATIO=1.2 \
      RELIABILITY_ROOM_SLACK_MS=0 RELIABILITY_ROOM_WARMUP_SECS=10 \
      cargo test --locked --release --test reliability slow_consumer -- --nocapture
    RELIABILITY_SLOWLORIS=10000 cargo test --locked --test reliability slowloris -- --nocapture
    fuzz -runs="${RELIABILITY_FUZZ_RUNS:-10000000}"
    ;;
  *)
    echo "usage: $0 [bounded|fuzz|long]" >&2
    exit 2
    ;;
esac
