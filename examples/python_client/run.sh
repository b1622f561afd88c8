#!/usr/bin/env bash
# Runs client.py against the real clientstatus server: a fresh server on a free 127.0.0.1 port
# with a temporary SQLite database, stopped afterwards. Exits with the client's status.
#
#   bash examples/python_client/run.sh   # from the repository root, after `cargo build` or
#                                        # the README's `cargo build --release`
#
# CLIENTSTATUS_BIN  server binary (default: the newer of target/debug/clientstatus and
#                   target/release/clientstatus under the repository root; a relative path is
#                   taken from the current directory)
# PYTHON_VENV       a virtualenv to create once and reuse (default: a new one in a temp dir)
# PYTHON            interpreter used to create the virtualenv (default: python3, needs >= 3.10)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ -n "${CLIENTSTATUS_BIN:-}" ]; then
  bin="$(realpath -m -- "$CLIENTSTATUS_BIN")"
else
  bin=""
  for candidate in "$root/target/debug/clientstatus" "$root/target/release/clientstatus"; do
    if [ -x "$candidate" ] && { [ -z "$bin" ] || [ "$candidate" -nt "$bin" ]; }; then
      bin="$candidate"
    fi
  done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "run.sh: no server binary under $root/target (run 'cargo build --release' or set CLIENTSTATUS_BIN)" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/clientstatus-pyexample.XXXXXX")"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Python environment with the pinned grpcio packages.
venv="${PYTHON_VENV:-$work/venv}"
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# 2. Python code for the contract, generated from proto/ (never committed).
gen="$work/gen"
mkdir -p "$gen"
"$venv/bin/python" -m grpc_tools.protoc -I "$root/proto" \
  --python_out="$gen" --grpc_python_out="$gen" \
  "$root/proto/crm/clientstatus/v1/client.proto" \
  "$root/proto/crm/clientstatus/v1/client_status_service.proto"

# 3. The real server on a free loopback port, on a temporary SQLite file.
port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
addr="127.0.0.1:$port"
"$bin" serve --listen "$addr" --database-url "sqlite:$work/clientstatus.db" \
  >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: the server exited early; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "run.sh: the server did not accept connections on $addr within 10 s; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
echo "run.sh: clientstatus listening on $addr"

# 4. The client; its exit status is the script's.
status=0
"$venv/bin/python" "$here/client.py" --gen-dir "$gen" "$addr" || status=$?

stop_server
if [ "$status" -ne 0 ]; then
  echo "run.sh: client failed (exit $status); server log:" >&2
  cat "$work/server.log" >&2
fi
exit "$status"
