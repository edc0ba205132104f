"""``fhirflow mllp listen`` and ``fhirflow mllp send``: the command line of :mod:`etl.transport.mllp`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``mllp`` command to the ``fhirflow`` parser's subcommands."""
    p = sub.add_parser("mllp", help="receive HL7 v2 over MLLP into a landing folder, or send a file")
    cmds = p.add_subparsers(dest="mllp_command", required=True)
    listen = cmds.add_parser("listen", help="acknowledge each message once it is fsynced into a landing batch")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    listen.add_argument("--port", type=int, required=True)
    listen.add_argument("--landing", type=Path, required=True, help="landing folder (e.g. ROOT/landing/hl7v2)")
    listen.add_argument("--max-messages", type=int, default=1000, help="publish a batch after this many messages")
    listen.add_argument("--max-age", type=float, default=60.0, help="publish a batch after this many seconds")
    listen.add_argument("--tls-cert", type=Path, help="serve TLS with this certificate (PEM; with --tls-key)")
    listen.add_argument("--tls-key", type=Path, help="private key of --tls-cert (PEM)")
    send = cmds.add_parser("send", help="send an HL7 v2 file message by message and check every ACK")
    send.add_argument("file", type=Path)
    send.add_argument("--host", default="127.0.0.1")
    send.add_argument("--port", type=int, required=True)
    send.add_argument("--tls", action="store_true", help="connect with TLS")
    send.add_argument("--tls-ca", type=Path, help="CA certificate to trust (PEM; implies --tls)")
    send.add_argument("--retries", type=int, default=8, help="resends of a message without an ACK (or AR)")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each ACK")


def run(args: argparse.Namespace) -> int:
    """Run ``fhirflow mllp ...``; the exit status: 0 when every message was accepted (send) or the
    listener stopped cleanly, 1 otherwise, 2 for a usage error."""
    from etl.transport import mllp

    if args.mllp_command == "listen":
        if bool(args.tls_cert) != bool(args.tls_key):
            print("fhirflow: --tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        tls = mllp.server_tls(args.tls_cert, args.tls_key) if args.tls_cert else None
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stats = mllp.listen(args.host, args.port, args.landing, max_messages=args.max_messages,
                            max_age=args.max_age, tls=tls, stop=stop)
        print(f"mllp: {stats.accepted} stored, {stats.duplicates} duplicates acknowledged again, "
              f"{stats.errors} not HL7 v2 (AE), {stats.refused} not stored (AR)")
        return 0
    tls_ctx = mllp.client_tls(args.tls_ca) if args.tls or args.tls_ca else None
    sender = mllp.Sender(args.host, args.port, tls=tls_ctx, timeout=args.timeout, retries=args.retries)
    report = mllp.send_file(args.file, sender)
    print(f"mllp: {report.sent} sent, {report.accepted} accepted (AA), {report.errors} errors (AE), "
          f"{report.rejected} rejected (AR), {report.failed} without an ACK")
    return 0 if report.ok else 1
