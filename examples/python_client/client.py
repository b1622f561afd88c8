#!/usr/bin/env python3
"""A lead's first steps through clientstatus, from Python with the official grpcio packages.

Creates a hot lead, logs a call with content and a next call tomorrow, reads the client back
and prints its stage, last call outcome and summary. Exits 0 when the stage is FOLLOW_UP,
1 when it is anything else, 2 on a gRPC error.

    python client.py [ADDRESS]          # default: $CLIENTSTATUS_ADDR or 127.0.0.1:50051

The Python code for the contract is generated at run time from the repository's proto/ with
grpcio-tools (into --gen-dir, or a temporary directory); nothing generated is committed.
Set CLIENTSTATUS_TOKEN to send `authorization: Bearer <token>` (a server with a tokens file
requires it; a loopback server without one does not).
"""

import argparse
import datetime
import importlib
import os
import sys
import tempfile
import uuid
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

HERE = Path(__file__).resolve().parent
DEFAULT_PROTO_DIR = HERE.parent.parent / "proto"
PROTO_FILES = [
    "crm/clientstatus/v1/client.proto",
    "crm/clientstatus/v1/client_status_service.proto",
]
TIMEOUT_SECONDS = 10


def generate(proto_dir: Path, out_dir: Path) -> None:
    """Runs protoc (bundled with grpcio-tools) on the contract, writing *_pb2*.py files."""
    from grpc_tools import protoc

    # Well-known types (google/protobuf/timestamp.proto) ship inside grpc_tools.
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *PROTO_FILES,
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {proto_dir}")


def load_modules(gen_dir: Path):
    """Imports the generated modules (crm.clientstatus.v1.*_pb2, namespace packages)."""
    sys.path.insert(0, str(gen_dir))
    pb = importlib.import_module("crm.clientstatus.v1.client_status_service_pb2")
    client_pb = importlib.import_module("crm.clientstatus.v1.client_pb2")
    rpc = importlib.import_module("crm.clientstatus.v1.client_status_service_pb2_grpc")
    return pb, client_pb, rpc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "address",
        nargs="?",
        default=os.environ.get("CLIENTSTATUS_ADDR", "127.0.0.1:50051"),
        help="server host:port (default: $CLIENTSTATUS_ADDR or 127.0.0.1:50051)",
    )
    parser.add_argument("--proto-dir", type=Path, default=DEFAULT_PROTO_DIR)
    parser.add_argument(
        "--gen-dir",
        type=Path,
        help="generated code (made here if missing); default: a temporary directory",
    )
    args = parser.parse_args()

    if args.gen_dir is None:
        # Removed when the program ends.
        scratch = tempfile.TemporaryDirectory(prefix="clientstatus-py-")
        args.gen_dir = Path(scratch.name)
    if not (
        args.gen_dir / "crm/clientstatus/v1/client_status_service_pb2_grpc.py"
    ).exists():
        generate(args.proto_dir, args.gen_dir)
    pb, client_pb, rpc = load_modules(args.gen_dir)

    metadata = []
    if os.environ.get("CLIENTSTATUS_TOKEN"):
        metadata.append(("authorization", f"Bearer {os.environ['CLIENTSTATUS_TOKEN']}"))

    with grpc.insecure_channel(args.address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT_SECONDS)
        except grpc.FutureTimeoutError:
            print(f"cannot reach clientstatus at {args.address}", file=sys.stderr)
            return 2
        stub = rpc.ClientStatusServiceStub(channel)
        call = {"timeout": TIMEOUT_SECONDS, "metadata": metadata}
        suffix = uuid.uuid4().hex[:8]
        try:
            # A hot lead from the portal. request_id is the idempotency key: a retry with the
            # same id returns the first answer. A unique email keeps lead de-duplication from
            # matching an earlier run's client.
            created = stub.CreateClient(
                pb.CreateClientRequest(
                    request_id=str(uuid.uuid4()),
                    name=client_pb.ClientName(last_name="Cohen", first_name="Dana"),
                    email=f"dana.{suffix}@example.com",
                    lead_status=client_pb.LEAD_STATUS_HOT,
                    record_source="python-example",
                ),
                **call,
            )
            client = created.client
            print(
                f"created={created.created} client_id={client.client_id} "
                f"stage={client_pb.ClientStage.Name(client.stage)}"
            )

            # An agent calls, has a real conversation and plans the next call for tomorrow.
            tomorrow = datetime.datetime.now(
                datetime.timezone.utc
            ) + datetime.timedelta(days=1)
            next_call_at = Timestamp()
            next_call_at.FromDatetime(tomorrow)
            stub.RecordContactAttempt(
                pb.RecordContactAttemptRequest(
                    request_id=str(uuid.uuid4()),
                    client_id=client.client_id,
                    # Optimistic check: fails with ABORTED if someone changed the client since.
                    expected_version=client.version,
                    outcome=client_pb.CALL_OUTCOME_CALL_WITH_CONTENT,
                    note="wants a quote",
                    next_call_at=next_call_at,
                ),
                **call,
            )

            client = stub.GetClient(
                pb.GetClientRequest(client_id=client.client_id), **call
            ).client
        except grpc.RpcError as e:
            print(f"gRPC error {e.code().name}: {e.details()}", file=sys.stderr)
            return 2

    stage = client_pb.ClientStage.Name(client.stage)
    print(f"stage: {stage}")
    print(f"last_call_outcome: {client_pb.CallOutcome.Name(client.last_call_outcome)}")
    print(
        f"next_call_at: {client.next_call_at.ToDatetime(datetime.timezone.utc).isoformat()}"
    )
    print("recent_events_summary:")
    for line in client.recent_events_summary.splitlines():
        print(f"  {line}")
    if client.stage != client_pb.CLIENT_STAGE_FOLLOW_UP:
        print(f"expected CLIENT_STAGE_FOLLOW_UP, got {stage}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
