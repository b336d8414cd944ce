#!/usr/bin/env bash
# The reliability suite (docs/reliability.md).
#
#   scripts/reliability.sh            bounded form, what CI runs: the fault tests
#                                     (`cargo test --test reliability`, both stores) and
#                                     each fuzz target for RELIABILITY_FUZZ_SECS (20) seconds
#   scripts/reliability.sh fuzz       the fuzz part of the bounded form only
#   scripts/reliability.sh long       every fuzz target for RELIABILITY_FUZZ_RUNS (10,000,000)
#                                     executions, and the slowloris test with 10,000
#                                     connections
#
# Fuzzing needs the nightly toolchain and cargo-fuzz (installed here when missing). A crash
# leaves its input in fuzz/artifacts/TARGET/; make it a regression test before fixing.
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
    cargo +nightly fuzz run --target-dir "$CARGO_TARGET_DIR/fuzz" "$target" \
      "fuzz/corpus/$target" -- "$@"
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
    RELIABILITY_SLOWLORIS=10000 cargo test --locked --test reliability slowloris -- --nocapture
    fuzz -runs="${RELIABILITY_FUZZ_RUNS:-10000000}"
    ;;
  *)
    echo "usage: $0 [bounded|fuzz|long]" >&2
    exit 2
    ;;
esac
