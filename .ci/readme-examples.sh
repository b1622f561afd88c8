#!/usr/bin/env bash
# Runs README.md's worked example, as written, against a fresh server: the server binary on a
# temporary SQLite file, an ephemeral loopback port and the example's own tokens file; every
# command's answer is checked against the `# ->` lines under it (.ci/readme_examples.py says
# how). Needs python3, and npm for buf (installed into a cache by .ci/buf.sh).
#
#   bash .ci/readme-examples.sh
#
# CLIENTSTATUS_BIN  server binary (default: target/debug/clientstatus, built if out of date)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${CLIENTSTATUS_BIN:-}" ]; then
  bin="$(realpath -- "$CLIENTSTATUS_BIN")"
else
  cargo build --locked --quiet --bin clientstatus
  bin="$PWD/target/debug/clientstatus"
fi
buf="$(bash .ci/buf.sh)"

exec python3 .ci/readme_examples.py README.md "$bin" "$buf" proto
