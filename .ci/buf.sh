#!/usr/bin/env bash
# Prints the path of a buf binary, installing it first if needed. buf comes from its npm
# package (@bufbuild/buf ships the native binary), installed once into a cache prefix, so only
# node/npm and the npm registry are needed.
set -euo pipefail

BUF_VERSION="${BUF_VERSION:-1.75.0}"
prefix="${BUF_NPM_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/clientstatus-buf/$BUF_VERSION}"
buf="$prefix/node_modules/.bin/buf"

if ! command -v npm >/dev/null 2>&1; then
  echo "buf: npm is required (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
if [ ! -x "$buf" ] || [ "$("$buf" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION" >&2
fi
echo "$buf"
