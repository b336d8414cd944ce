#!/usr/bin/env bash
# Installs Soketi 1.6.1 for benches/room_vs_soketi.rs under a cache folder outside the repo
# (default ~/.cache/tidings/soketi, or $1). Soketi pins uWebSockets.js to a GitHub tarball,
# which npm cannot fetch here (only registries are reachable); the `overrides` below swap it
# for the same uWS build published on npm as @trufflesuite/uws-js-unofficial.
# Prints the path of Soketi's entry script (bin/server.js) on success.
set -euo pipefail

dir="${1:-${HOME}/.cache/tidings/soketi}"
mkdir -p "$dir"
cd "$dir"
cat > package.json <<'JSON'
{
  "name": "tidings-bench-soketi",
  "private": true,
  "version": "0.0.0",
  "dependencies": {
    "@soketi/soketi": "1.6.1"
  },
  "overrides": {
    "uWebSockets.js": "npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0"
  }
}
JSON
if [ ! -f node_modules/@soketi/soketi/bin/server.js ] || [ "${FORCE:-}" = 1 ]; then
  npm install --no-audit --no-fund --loglevel=error >&2
fi
entry="$dir/node_modules/@soketi/soketi/bin/server.js"
[ -f "$entry" ] || { echo "soketi-install: $entry missing after npm install" >&2; exit 1; }
echo "$entry"
