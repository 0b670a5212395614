"""``traceway demo``: start the shop's processes (and a Traceway server), drive load, stop everything."""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from traceway.demo.loadgen import drive

# Started in this order: each service's peers are already listening.
TOPOLOGY: list[tuple[str, list[str]]] = [
    ("queue", []),
    ("inventory", []),
    ("payment", []),
    ("checkout", ["inventory", "payment", "queue"]),
    ("frontend", ["checkout", "inventory"]),
    ("worker", ["queue"]),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--otlp-endpoint", default=None,
                        help="OTLP/HTTP base URL to send traces to; without it a `traceway serve` is started too")
    parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--rate", type=float, default=5.0, help="customer requests per second (default 5)")
    parser.add_argument("--ui-port", type=int, default=16686,
                        help="UI/query port of the started server (default 16686, any free port if taken)")
    parser.add_argument("--data-dir", default=None,
                        help="data directory of the started server (default: a temporary one, removed at exit)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Processes:
    """Child processes to stop however the demo ends: the services first (they
    flush their spans on the way out), then the server that stores them."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[str]]] = []
        self.stopped_last: set[str] = set()

    def start(self, name: str, argv: list[str], *, stop_last: bool = False,
              **kwargs: object) -> subprocess.Popen[str]:
        proc: subprocess.Popen[str] = subprocess.Popen(argv, text=True, **kwargs)  # type: ignore[call-overload]
        self.children.append((name, proc))
        if stop_last:
            self.stopped_last.add(name)
        return proc

    def stop_all(self, timeout_s: float = 20.0) -> None:
        first = [proc for name, proc in self.children if name not in self.stopped_last]
        last = [proc for name, proc in self.children if name in self.stopped_last]
        for group in (first, last):
            _stop_together(group, timeout_s)

    def sent_spans(self) -> tuple[int, int]:
        """(exported, dropped) spans the stopped services reported on their way out."""
        exported = dropped = 0
        for _name, proc in self.children:
            if proc.stdout is None or proc.poll() is None:
                continue
            for line in proc.stdout.read().splitlines():
                words = line.split()
                if len(words) == 4 and words[0] == "SENT" and words[2] == "DROPPED":
                    exported += int(words[1])
                    dropped += int(words[3])
        return exported, dropped


def _stop_together(procs: list[subprocess.Popen[str]], timeout_s: float) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _preferred_or_free(port: int) -> int:
    return port if port and port_is_free(port) else free_port()


def start_server(procs: Processes, data_dir: Path, ui_port: int) -> tuple[str, str]:
    """Start `traceway serve` on loopback; returns (OTLP/HTTP endpoint, UI URL) once it answers."""
    # The standard ports when free, so the user's own services can send there too.
    ui_port = _preferred_or_free(ui_port)
    http_port = _preferred_or_free(4318)
    argv = [sys.executable, "-m", "traceway.cli", "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
            "--otlp-grpc-port", str(_preferred_or_free(4317)), "--otlp-http-port", str(http_port),
            "--zipkin-port", str(_preferred_or_free(9411)), "--ui-port", str(ui_port)]
    proc = procs.start("traceway serve", argv, stop_last=True)
    ui = f"http://127.0.0.1:{ui_port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"traceway serve exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{ui}/api/services", timeout=2):
                return f"http://127.0.0.1:{http_port}", ui
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("traceway serve did not become ready within 60 s")


def start_shop(procs: Processes, otlp_endpoint: str) -> dict[str, str]:
    """Start every service process in TOPOLOGY order; returns name -> base URL."""
    urls: dict[str, str] = {}
    for name, peers in TOPOLOGY:
        argv = [sys.executable, "-m", "traceway.demo.process", name, "--otlp-endpoint", otlp_endpoint]
        for peer in peers:
            argv += ["--peer", f"{peer}={urls[peer]}"]
        proc = procs.start(name, argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"demo service {name} failed to start (exit status {proc.poll()})")
        urls[name] = f"http://127.0.0.1:{int(line.split()[1])}"
    return urls


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    try:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    except ValueError:
        pass  # not the main thread: the caller owns signals
    procs = Processes()
    temp_dir = None
    try:
        endpoint = args.otlp_endpoint
        if endpoint is None:
            if args.data_dir is None:
                temp_dir = tempfile.mkdtemp(prefix="traceway-demo-")
            data_dir = Path(args.data_dir or temp_dir)  # type: ignore[arg-type]
            endpoint, ui = start_server(procs, data_dir, args.ui_port)
            print(f"traceway demo: Traceway UI at {ui}", flush=True)
        urls = start_shop(procs, endpoint)
        print(f"traceway demo: shop at {urls['frontend']}, sending traces to {endpoint}; "
              f"{args.rate:g} requests/s{'' if args.duration is None else f' for {args.duration:g} s'}; Ctrl-C stops",
              flush=True)
        outcomes = drive(urls["frontend"], args.rate, stop, args.duration)
        summary = ", ".join(f"{k}×{v}" for k, v in sorted(outcomes.items()))
        print(f"traceway demo: sent {sum(outcomes.values())} requests ({summary})", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"traceway demo: {exc}", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
        exported, dropped = procs.sent_spans()
        print(f"traceway demo: the services sent {exported} spans"
              + (f" and lost {dropped}" if dropped else ""), flush=True)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
