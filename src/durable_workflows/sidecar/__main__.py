"""Command line: ``python -m durable_workflows.sidecar --db PATH --port PORT``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from durable_workflows.sidecar.auth import TOKEN_ENV_VAR
from durable_workflows.sidecar.dispatch import MAX_DELIVERIES, MAX_WORK_ITEM_BYTES
from durable_workflows.sidecar.errors import SidecarError
from durable_workflows.sidecar.server import SqliteSidecar


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="durable-workflows sidecar",
        description="Run a persistent Durable Task sidecar (gRPC) backed by SQLite.")
    p.add_argument("--db", required=True, help="SQLite file (created if missing) or :memory:")
    p.add_argument("--port", type=int, default=4001, help="port to listen on (default: %(default)s; 0: any free port)")
    p.add_argument("--host", default="localhost", help="interface to bind (default localhost); "
                   "any other needs --token or --insecure")
    p.add_argument("--token", help=f"shared secret every RPC must carry (default: ${TOKEN_ENV_VAR}; "
                   "prefer the variable: arguments show in `ps`)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without a token (trusted networks only)")
    p.add_argument("--tls-cert", help="PEM certificate (chain) to serve TLS with")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--max-history", type=int, default=10_000,
                   help="history events per instance before it is failed (default: %(default)s)")
    p.add_argument("--lease-seconds", type=float, default=600.0,
                   help="seconds a worker may hold a work item before it is redelivered "
                   "(default: %(default)s)")
    p.add_argument("--ping-interval", type=float, default=30.0,
                   help="seconds between health pings to idle workers (default: %(default)s)")
    p.add_argument("--threads", type=int, default=128, help="gRPC server threads (default: %(default)s)")
    p.add_argument("--max-work-item-bytes", type=int, default=MAX_WORK_ITEM_BYTES,
                   help="largest work item handed to a worker; a larger one fails its run "
                   "(default: %(default)s)")
    p.add_argument("--max-deliveries", type=int, default=MAX_DELIVERIES,
                   help="failed deliveries of a work item in a row before it fails "
                   "(default: %(default)s)")
    p.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL", "EXTRA"],
                   help="SQLite synchronous mode (default: %(default)s); FULL also survives power loss")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the sidecar until SIGINT/SIGTERM; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = args.token or os.environ.get(TOKEN_ENV_VAR, "").strip() or None
    sidecar = SqliteSidecar(
        args.db, port=args.port, host=args.host, max_history=args.max_history,
        lease_seconds=args.lease_seconds, ping_interval=args.ping_interval,
        max_threads=args.threads, synchronous=args.synchronous,
        max_work_item_bytes=args.max_work_item_bytes, max_deliveries=args.max_deliveries,
        token=token, insecure=args.insecure,
        tls_cert=args.tls_cert, tls_key=args.tls_key)
    try:
        sidecar.start()
    except SidecarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    access = "token required" if token else "no token"
    print(f"sidecar listening on {sidecar.address} "
          f"(db: {args.db}; bound to {args.host}; {access})", flush=True)
    try:
        while not stop.wait(0.5):  # short waits: the signal handler runs between them
            pass
    finally:
        sidecar.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
