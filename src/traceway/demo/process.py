"""Run one demo service in this process: ``python -m traceway.demo.process NAME --peer name=URL ...``.

Prints ``LISTENING <port>`` on stdout once ready (the worker prints
``LISTENING 0``), then runs until SIGTERM/SIGINT or until its parent exits.
On the way out it flushes its spans and prints ``SENT <exported> DROPPED <lost>``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from traceway.demo.queue import MessageQueue
from traceway.demo.shop import SERVICES, run_worker
from traceway.instrument import BatchSettings, configure

NAMES = ("queue", "worker", *SERVICES)
VERSION = "1.4.2"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--otlp-endpoint", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--peer", action="append", default=[], help="NAME=URL of a service this one calls")
    args = parser.parse_args(argv)
    peers = dict(p.split("=", 1) for p in args.peer)
    parent = os.getppid()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    handle = None
    server = None
    if args.name == "queue":
        server = MessageQueue().serve(args.port)
    else:
        handle = configure(
            args.name, endpoint=args.otlp_endpoint,
            resource_attributes={"service.version": VERSION, "deployment.environment": "demo"},
            batch=BatchSettings(schedule_delay_s=0.2),
        )
        if args.name == "worker":
            threading.Thread(target=run_worker, args=(peers, stop), daemon=True).start()
        else:
            server = SERVICES[args.name](peers).serve(args.port)
    print(f"LISTENING {server.server_address[1] if server else 0}", flush=True)
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the supervisor died without stopping us
            break
    if server is not None:
        server.shutdown()
    if handle is not None:
        handle.shutdown()
        stats = handle.stats()
        print(f"SENT {stats.get('exported', 0)} DROPPED {stats.get('dropped', 0)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
