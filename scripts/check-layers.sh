#!/usr/bin/env bash
# One door: REST handlers (src/http) and gateway commands (src/gateway) go through use cases
# in src/app. They must not reach the store or publish to the hub themselves. Fails listing
# every offending line.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='crate::store|state\s*\.\s*store\b|\.store\s*\.|hub\s*\.\s*publish|\.publish\s*\('
if grep -rnE "$pattern" src/http src/gateway | grep -vE '^\S+:[0-9]+:\s*//'; then
  echo "check-layers: src/http and src/gateway must call src/app use cases, not the store or hub.publish" >&2
  exit 1
fi
echo "check-layers: ok"
