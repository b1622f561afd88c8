#!/usr/bin/env bash
# Lints the Protobuf contract under proto/ with buf (rules in buf.yaml at the repo root).
# buf comes from its npm package (@bufbuild/buf ships the native binary), installed once into
# a cache prefix, so only node/npm and the npm registry are needed. Extra arguments go to
# `buf lint`, e.g. `--error-format=json`.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION="${BUF_VERSION:-1.75.0}"
prefix="${BUF_NPM_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/clientstatus-buf/$BUF_VERSION}"
buf="$prefix/node_modules/.bin/buf"

if ! command -v npm >/dev/null 2>&1; then
  echo "buf-lint: npm is required (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
if [ ! -x "$buf" ] || [ "$("$buf" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION" >&2
fi

echo "buf $("$buf" --version) lint proto/"
"$buf" lint "$@"
echo "buf lint: no findings"
