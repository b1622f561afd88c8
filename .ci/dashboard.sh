#!/usr/bin/env bash
# The browser dashboard (docs/dashboard.md): its sources are formatted, type-check and build to
# exactly the committed dashboard/dist/ (so `cargo build` needs no Node.js), and it works in a
# real browser, Debian's Chromium driven by playwright-core, against a fresh server.
# Screenshots of each view land in target/dashboard-screenshots/ (their paths are printed).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "dashboard: Chromium is not installed: installing Debian's package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "dashboard: npm is required (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi

# The server binary the test starts: after `cargo test` this builds nothing.
cargo test --locked --no-run --quiet

cd dashboard
npm ci --no-audit --no-fund --loglevel=error
npm run --silent lint
npm run --silent build
if [ -n "$(git status --porcelain -- dist/)" ]; then
  echo "dashboard/dist/ is not what the sources build to: run \`npm run build\` in dashboard/ and commit it" >&2
  git --no-pager diff --stat -- dist/ >&2
  exit 1
fi
echo "dashboard: dist/ is what the sources build to"
CLIENTSTATUS_BIN=../target/debug/clientstatus DASHBOARD_SCREENSHOTS=../target/dashboard-screenshots npm test
