#!/usr/bin/env bash
# The console's browser tests: headless Chromium (Debian's `chromium` package, installed here
# when missing) driven by puppeteer-core, against the real binary and real SDK clients.
#
#   bash tests/browser/run.sh      # needs `cargo build` first (see tests/sdk/harness.mjs)
#
# Screenshots go to tests/browser/output/<sqlite|postgres>/; TIDINGS_SCREENSHOTS_TO_DOCS=1 copies them to
# docs/screenshots/. TIDINGS_TEST_DATABASE_URL=postgres://... runs against Postgres.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v "${TIDINGS_CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
  echo "browser tests: installing Debian's chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi

install_locked() {
  local dir=$1 lock_hash stamp
  lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  stamp="$dir/node_modules/.tidings-lock-sha256"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    echo "browser tests: npm ci in $dir"
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > "$stamp"
  fi
}
# The SDK clients come from the SDK suite's locked packages.
install_locked ../sdk
install_locked .

exec timeout --signal=TERM --kill-after=10 240 \
  node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
