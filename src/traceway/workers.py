"""The main process's receiver workers (``--workers N``): start N-1, restart, stop.

Each worker (``receiver_worker.py``) is a fresh interpreter running the same
receivers with the same settings; the main process keeps receiving too, stays
the only writer and serves the query API. It tells each worker on its standard
input when the store starts or stops failing (a worker far ahead of the writer
then answers 503, not 429). Workers are started from the event
loop's thread: PR_SET_PDEATHSIG fires when the thread that forked a worker
exits, so it must be the one that lives as long as the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from traceway.pipeline.worker_spools import worker_directory
from traceway.receiver_worker import COUNTERS_FILE, read_counters, settings_to_json
from traceway.settings import Settings
from traceway.telemetry import CounterSample, Telemetry

log = logging.getLogger("traceway.workers")

_RESTART_DELAY_S = 1.0
_STOP_TIMEOUT_S = 45.0


class WorkerStartError(OSError):
    """A receiver worker exited before it was receiving (a taken port, say)."""


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.status_fd = -1  # lines from the worker: "ready", "problem <why>", "ok"
        self.to_worker_fd = -1  # its standard input: the settings, then the store's state
        self.told_store_problem: str | None = None
        self._unread = b""
        self.ready = False
        self.problem: str | None = None
        self.restart_at = 0.0

    def poll_status(self) -> bool:
        """Read what the worker said since the last call; True once it receives."""
        while self.status_fd >= 0:
            try:
                chunk = os.read(self.status_fd, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            *lines, self._unread = (self._unread + chunk).split(b"\n")
            for line in lines:
                text = line.decode(errors="replace")
                if text == "ready":
                    self.ready = True
                elif text == "ok":
                    self.problem = None
                elif text.startswith("problem "):
                    self.problem = text.removeprefix("problem ")
        return self.ready

    def tell_store_problem(self, problem: str | None) -> None:
        """Tell the worker the store's problem if it changed (None: well again)."""
        if self.to_worker_fd < 0 or problem == self.told_store_problem:
            return
        line = "store-ok" if problem is None else "store-failing " + problem.replace("\n", " ")
        try:  # under PIPE_BUF (4096) bytes: written whole or not at all
            os.write(self.to_worker_fd, line.encode()[:4000] + b"\n")
        except (BlockingIOError, BrokenPipeError):
            return  # a busy or exiting worker: told on a later tick, or not at all
        self.told_store_problem = problem

    def forget(self) -> None:
        if self.status_fd >= 0:
            os.close(self.status_fd)
        self.status_fd = -1
        if self.to_worker_fd >= 0:
            os.close(self.to_worker_fd)
        self.to_worker_fd = -1
        self.told_store_problem = None
        self._unread = b""
        self.ready = False
        self.problem = None
        self.process = None


class ReceiverWorkers:
    """``count`` receiver worker processes sharing the OTLP/HTTP socket ``http_sock``."""

    def __init__(self, settings: Settings, count: int, http_sock: socket.socket,
                 spool_root: Path, telemetry: Telemetry,
                 store_problem: Callable[[], str | None] = lambda: None) -> None:
        """``store_problem()``: why the store fails now (None when well), for the workers."""
        self._settings_json = settings_to_json(settings)
        self._store_problem = store_problem
        self._http_sock = http_sock
        self._workers = [_Worker(index) for index in range(1, count + 1)]
        self._directories = [worker_directory(spool_root, w.index) for w in self._workers]
        for directory in self._directories:  # an earlier run's counts are not this run's
            (directory / COUNTERS_FILE).unlink(missing_ok=True)
        telemetry.add_counters_from(self._counters)
        telemetry.receiver_workers.set_function(
            lambda: sum(worker.ready for worker in self._workers))
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None

    def _counters(self) -> list[CounterSample]:
        return [sample for directory in self._directories for sample in read_counters(directory)]

    def _spawn(self, worker: _Worker) -> None:
        status_r, status_w = os.pipe()
        os.set_blocking(status_r, False)
        to_worker_r, to_worker_w = os.pipe()
        fd = self._http_sock.fileno()
        try:
            worker.process = subprocess.Popen(
                [sys.executable, "-m", "traceway.receiver_worker",
                 str(worker.index), str(fd), str(status_w), str(os.getpid())],
                pass_fds=(fd, status_w), stdin=to_worker_r)
            # The settings go on its standard input, not in argv: ps shows that.
            os.write(to_worker_w, self._settings_json.encode() + b"\n")
            os.set_blocking(to_worker_w, False)
        except BaseException:
            os.close(to_worker_w)
            raise
        finally:
            os.close(status_w)
            os.close(to_worker_r)
        worker.status_fd = status_r
        worker.to_worker_fd = to_worker_w
        worker.tell_store_problem(self._store_problem())

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start every worker and return once all receive; WorkerStartError if one exits."""
        for worker in self._workers:
            self._spawn(worker)
        deadline = time.monotonic() + timeout_s
        while not all(worker.poll_status() for worker in self._workers):
            for worker in self._workers:
                assert worker.process is not None
                if worker.process.poll() is not None:
                    raise WorkerStartError(f"receiver worker {worker.index} exited with "
                                           f"{worker.process.returncode} while starting")
            if time.monotonic() > deadline:
                raise WorkerStartError(f"receiver workers not receiving after {timeout_s:g} s")
            await asyncio.sleep(0.05)
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        """Start a worker again a moment after it exits (kill -9, a crash)."""
        while not self._stopping:
            now = time.monotonic()
            store_problem = self._store_problem()
            for worker in self._workers:
                worker.poll_status()
                worker.tell_store_problem(store_problem)
                if worker.process is not None and worker.process.poll() is not None:
                    log.error("receiver worker %d (pid %d) exited with %d; starting it again",
                              worker.index, worker.process.pid, worker.process.returncode)
                    worker.forget()
                    worker.restart_at = now + _RESTART_DELAY_S
                elif worker.process is None and now >= worker.restart_at:
                    self._spawn(worker)
            await asyncio.sleep(0.1)

    def problems(self) -> list[str]:
        """Workers not receiving now (being started again), and what keeps a running
        one's write path from accepting spans (its spool cannot write, say)."""
        found = []
        for worker in self._workers:
            if not worker.ready:
                found.append(f"receiver worker {worker.index} is not running (starting it again)")
            elif worker.problem:
                found.append(f"receiver worker {worker.index}: {worker.problem}")
        return found

    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers if worker.process is not None]

    async def stop(self) -> None:
        """SIGTERM every worker (each answers its in-flight requests and writes its
        spool) and wait for them to exit; SIGKILL one that takes over 45 s."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        running = [w.process for w in self._workers if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.to_thread(process.wait, _STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error("receiver worker pid %d did not stop; killing it", process.pid)
                process.kill()
                await asyncio.to_thread(process.wait)
        for worker in self._workers:
            worker.forget()
