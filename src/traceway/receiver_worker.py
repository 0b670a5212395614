"""A receiver worker: OTLP/gRPC and OTLP/HTTP in a process of its own (``--workers N``).

The main process starts it (``traceway/workers.py``) as
``python -m traceway.receiver_worker INDEX HTTP_FD STATUS_FD PARENT_PID``, the settings
as a line of JSON on its standard input; later lines there say whether the store is
failing (``store-failing <why>``, ``store-ok``), so that a worker far ahead of the
writer answers 503 during a store outage, as the main process does, and 429 otherwise.
It serves the same receivers with the same settings (tokens, TLS, limits) as the
main process: OTLP/HTTP on the listening socket it inherits (both processes
accept from it) and OTLP/gRPC on the same port (SO_REUSEPORT). Spans go to its
own spool and a sender is answered once they are fsynced there; the main
process, the only writer, stores them from that spool
(``pipeline/worker_spools.py``). It dies with the main process (kill -9 too:
PR_SET_PDEATHSIG), and SIGTERM drains it: in-flight requests are answered, the
spool is written, the process exits 0. It tells the main process on STATUS_FD
when it receives and when its spool cannot write (for /ready), and writes its
counters to ``counters.json`` in its spool directory (for /metrics).

Zipkin's port stays in the main process: it also serves Zipkin's read API,
which needs the store.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import fields, replace
from pathlib import Path

from traceway.collector.ingest import Ingest
from traceway.collector.otlp_grpc import otlp_grpc_server
from traceway.collector.otlp_http import otlp_http_app
from traceway.http_limits import OneAcceptPerWakeup, RateLimitedLoopErrors, raise_descriptor_limit
from traceway.listener import http_listener
from traceway.pipeline.spool import Spool
from traceway.pipeline.worker_spools import WorkerSpoolStage, lock_directory, worker_directory
from traceway.settings import Settings
from traceway.telemetry import CounterSample, Telemetry

log = logging.getLogger("traceway.worker")

SPOOL_DIR = "spool"
COUNTERS_FILE = "counters.json"
# /metrics in the main process lags a worker's requests by about this much.
_COUNTERS_EVERY_S = 0.05
# Short segments: the main process stores a worker's spans once their segment closes.
SEGMENT_AGE_S = 0.1
SEGMENT_BYTES = 16 << 20
_PR_SET_PDEATHSIG = 1


def settings_to_json(settings: Settings) -> str:
    return json.dumps({f.name: str(getattr(settings, f.name)) if f.name == "data_dir"
                       else getattr(settings, f.name) for f in fields(Settings)})


def settings_from_json(text: str) -> Settings:
    values = json.loads(text)
    values["data_dir"] = Path(values["data_dir"])
    return Settings(**values)


def in_flight_share(settings: Settings) -> int:
    """One receiving process's part of --max-in-flight-bytes: the cap holds for all of
    them together."""
    return settings.max_in_flight_bytes_int // max(1, settings.workers)


def read_counters(directory: Path) -> list[CounterSample]:
    """The counters a worker last wrote to its directory (none if it never did)."""
    try:
        return [(name, labels, value) for name, labels, value
                in json.loads((directory / COUNTERS_FILE).read_text())]
    except (OSError, ValueError):
        return []


class _CountersFile:
    """The worker's counters, written to its directory when they change (looked at every
    50 ms) for the main process's /metrics; a worker started again goes on from its
    predecessor's values."""

    def __init__(self, directory: Path, telemetry: Telemetry) -> None:
        self._path = directory / COUNTERS_FILE
        self._telemetry = telemetry
        self._base = {(name, tuple(sorted(labels.items()))): value
                      for name, labels, value in read_counters(directory)}
        self._written: list[CounterSample] | None = None

    def write(self) -> None:
        """Write the counters if they changed; on a full disk, try again next time."""
        samples = self._telemetry.counter_samples()
        if samples == self._written:
            return
        try:
            self._write(samples)
        except OSError as exc:
            log.debug("cannot write the counters file: %s", exc)
        else:
            self._written = samples

    def _write(self, samples: list[CounterSample]) -> None:
        totals = dict(self._base)
        for name, labels, value in samples:
            key = (name, tuple(sorted(labels.items())))
            totals[key] = totals.get(key, 0.0) + value
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps([(name, dict(labels), value)
                                         for (name, labels), value in totals.items()]))
        temporary.replace(self._path)

    async def report_when_changed(self, spool: Spool, status_fd: int) -> None:
        """Counters to the file; the spool's problem (or that it is gone) as a line on the
        status pipe, which needs no disk and no new descriptor."""
        reported: str | None = None
        while True:
            await asyncio.sleep(_COUNTERS_EVERY_S)
            self.write()
            if spool.problem != reported:
                reported = spool.problem
                line = "ok" if reported is None else "problem " + reported.replace("\n", " ")
                os.write(status_fd, line.encode() + b"\n")


def read_first_line(fd: int) -> tuple[bytes, bytes]:
    """The first line on ``fd`` (without its newline) and what was read after it."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


class _StoreStatusFromParent:
    """The main process's ``store-failing <why>`` / ``store-ok`` lines, read on the event
    loop from standard input, into the stage's ``store_problem``."""

    def __init__(self, stage: WorkerSpoolStage, fd: int, unread: bytes) -> None:
        self._stage = stage
        self._fd = fd
        self._unread = b""
        self._take(unread)

    def _take(self, chunk: bytes) -> None:
        *lines, self._unread = (self._unread + chunk).split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            if text == "store-ok":
                self._stage.store_problem = None
            elif text.startswith("store-failing "):
                self._stage.store_problem = text.removeprefix("store-failing ")

    def read(self) -> None:
        chunk = os.read(self._fd, 65536)
        if chunk:
            self._take(chunk)
        else:  # the main process closed it (it is stopping this worker)
            asyncio.get_running_loop().remove_reader(self._fd)


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the main process exits, however it exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)


async def run_worker(settings: Settings, index: int, http_sock: socket.socket,
                     status_fd: int, from_parent: bytes = b"") -> None:
    """``from_parent``: what was read from standard input after the settings line."""
    telemetry = Telemetry()
    security = replace(settings.security(), on_refusal=telemetry.count_unauthenticated)
    directory = worker_directory(settings.data_dir / SPOOL_DIR, index)
    # Held until this process exits: the main process reads the last segment only then.
    lock_fd = await asyncio.to_thread(lock_directory, directory, True)
    assert lock_fd is not None
    counters = _CountersFile(directory, telemetry)
    spool = Spool(directory, segment_age_s=SEGMENT_AGE_S, segment_bytes=SEGMENT_BYTES)
    spool.start()
    stage = WorkerSpoolStage(spool, settings.max_queue_bytes_int)
    store_status = _StoreStatusFromParent(stage, sys.stdin.fileno(), from_parent)
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), store_status.read)
    ingest = Ingest(stage, telemetry, max_in_flight_bytes=in_flight_share(settings))
    listener, sock = http_listener(
        security.ingest_app(otlp_http_app(ingest), security.otlp_cors_origins),
        settings.host, settings.otlp_http_port, security, http_sock)
    grpc_server = otlp_grpc_server(ingest, f"{settings.host}:{settings.otlp_grpc_port}", security)
    await grpc_server.start()
    serving = asyncio.create_task(listener.serve(sockets=[sock]))
    while not listener.started:
        if serving.done():
            raise OSError(f"worker {index}: the OTLP/HTTP listener failed: {serving.exception()}")
        await asyncio.sleep(0.02)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(RateLimitedLoopErrors())
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    os.write(status_fd, b"ready\n")
    reporting = asyncio.create_task(counters.report_when_changed(spool, status_fd))
    log.info("receiver worker %d (pid %d) is receiving", index, os.getpid())
    await stopping.wait()
    listener.should_exit = True
    await grpc_server.stop(grace=30)
    await serving
    await asyncio.to_thread(spool.close)
    reporting.cancel()
    counters.write()
    log.info("receiver worker %d stopped", index)


def main(argv: list[str]) -> int:
    index, http_fd, status_fd, parent_pid = argv
    die_with_parent(int(parent_pid))
    settings_line, from_parent = read_first_line(sys.stdin.fileno())
    settings = settings_from_json(settings_line.decode())
    sys.setswitchinterval(0.0005)  # as in the main process (server.serve)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_descriptor_limit()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C reaches the main process
    http_sock = socket.socket(fileno=int(http_fd))
    try:
        with asyncio.Runner(loop_factory=OneAcceptPerWakeup) as runner:
            runner.run(run_worker(settings, int(index), http_sock, int(status_fd), from_parent))
    except OSError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
