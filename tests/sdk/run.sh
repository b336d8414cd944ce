#!/usr/bin/env bash
# End-to-end tests with the official leancloud-realtime SDKs (4.3.1 and 5.0.0-rc.8).
#
#   bash tests/sdk/run.sh                      # every scenario, both SDK versions
#   bash tests/sdk/run.sh test/03-messages.test.mjs   # some files only (paths relative to tests/sdk)
#
# Needs the server binary already built (`cargo build`); see harness.mjs for where it is looked
# up (TIDINGS_BIN, $CARGO_TARGET_DIR/debug/tidings, target/debug/tidings, cargo metadata).
# Knobs: TIDINGS_SDK_VERSIONS=v4|v5, TIDINGS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1/postgres,
# TIDINGS_TEST_RUST_LOG=debug, TIDINGS_SDK_WAIT_MS (default 10000).
set -euo pipefail
cd "$(dirname "$0")"

# Install the exact locked packages when node_modules is missing or older than the lock file.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.tidings-lock-sha256
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "sdk tests: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  files=(test/*.test.mjs)
fi

# Every wait inside the tests has its own timeout (10 s by default) and every test one of 60 s;
# the outer limit only guards against a runner that cannot exit.
exec timeout --signal=TERM --kill-after=10 1200 \
  node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
