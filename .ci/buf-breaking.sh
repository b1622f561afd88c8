#!/usr/bin/env bash
# The contract only grows: `buf breaking` (FILE rules, buf.yaml) against the previous commit,
# HEAD~1 (on main, the commit before the one being checked; BUF_AGAINST names another). A
# shallow clone is deepened by one commit first; with no previous commit there is nothing to
# compare, which is said and is not a failure. A change that must break goes to a v2 package.
set -euo pipefail
cd "$(dirname "$0")/.."

against="${BUF_AGAINST:-HEAD~1}"
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null \
  && [ "$(git rev-parse --is-shallow-repository 2>/dev/null)" = "true" ]; then
  git fetch --quiet --deepen=1 2>/dev/null || true
fi
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  if [ -n "${BUF_AGAINST:-}" ]; then
    echo "buf breaking: BUF_AGAINST=$BUF_AGAINST is not a commit" >&2
    exit 1
  fi
  echo "buf breaking: skipped, no previous commit to compare with"
  exit 0
fi

buf="$(bash .ci/buf.sh)"
previous="$(mktemp -d)"
trap 'rm -rf "$previous"' EXIT
if ! git cat-file -e "$against:proto" 2>/dev/null; then
  echo "buf breaking: skipped, $against has no proto/"
  exit 0
fi
# Both sides as workspaces with their own buf.yaml, so what each excludes (the vendored
# googleapis files) is left out of both.
paths=(proto)
if git cat-file -e "$against:buf.yaml" 2>/dev/null; then paths+=(buf.yaml); fi
git archive "$against" "${paths[@]}" | tar -x -C "$previous"
echo "buf $("$buf" --version) breaking proto/ against $against ($(git rev-parse --short "$against"))"
"$buf" breaking . --against "$previous"
echo "buf breaking: the contract only grew"
