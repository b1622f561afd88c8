#!/usr/bin/env bash
# Lints the Protobuf contract under proto/ with buf (rules in buf.yaml at the repo root).
# Extra arguments go to `buf lint`, e.g. `--error-format=json`.
set -euo pipefail
cd "$(dirname "$0")/.."

buf="$(bash .ci/buf.sh)"
echo "buf $("$buf" --version) lint proto/"
"$buf" lint "$@"
echo "buf lint: no findings"
