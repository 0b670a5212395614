"""`traceway serve`: receivers, write pipeline, store and query API in one process."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import grpc
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from traceway.collector.ingest import Ingest, Stage
from traceway.collector.otlp_grpc import otlp_grpc_server
from traceway.collector.otlp_http import otlp_http_app
from traceway.collector.zipkin_http import zipkin_routes
from traceway.config import Config, ConfigError, load_config
from traceway.http_limits import OneAcceptPerWakeup, RateLimitedLoopErrors, raise_descriptor_limit
from traceway.listener import Listener, http_listener
from traceway.model import SpanBatch
from traceway.pipeline.batcher import WriteQueue
from traceway.pipeline.quarantine import Quarantine
from traceway.pipeline.retention import RetentionLoop
from traceway.pipeline.sampling import RemoteConfig, Strategies, TailSampler
from traceway.pipeline.sampling.tail import tune_gc_for_holding
from traceway.pipeline.spool import Spool
from traceway.pipeline.spooled import SpooledWrites, drain_spool, rederive_stored_copies
from traceway.pipeline.worker_spools import WORKER_DIR, WorkerSpoolReader
from traceway.query.health_api import health_routes
from traceway.query.jaeger_api import jaeger_routes
from traceway.query.jaeger_v3_api import jaeger_v3_routes
from traceway.query.monitor_api import monitor_routes
from traceway.query.pretty import PrettyPrintMiddleware
from traceway.query.sampling_api import remote_sampling_app, sampling_routes
from traceway.query.trace_analysis_api import trace_analysis_routes
from traceway.query.zipkin_api import zipkin_read_routes
from traceway.receiver_worker import in_flight_share
from traceway.settings import Settings
from traceway.storage.api import Reader, WaitsOutOutages
from traceway.storage.factory import open_store
from traceway.telemetry import CONTENT_TYPE, Telemetry
from traceway.workers import ReceiverWorkers

log = logging.getLogger("traceway")


def ui_app(store: Reader, telemetry: Telemetry, strategies: Strategies,
           query_api: bool = True, problems: Callable[[], list[str]] = list) -> Starlette:
    """/metrics and /ready always; the query API and UI unless this is a collector."""
    def metrics(request: Request) -> Response:
        return Response(telemetry.render(), media_type=CONTENT_TYPE)

    def ready(request: Request) -> Response:
        """200 while every part of the write path works; 503 and the reasons otherwise."""
        found = problems()
        return JSONResponse({"ready": not found, "problems": found}, 503 if found else 200)

    routes: list[BaseRoute] = [Route("/metrics", metrics), Route("/ready", ready)]
    if not query_api:
        return Starlette(routes=routes)
    routes += [*jaeger_routes(store), *trace_analysis_routes(store), *jaeger_v3_routes(store),
               *health_routes(store), *monitor_routes(store),
               *sampling_routes(strategies, "/api/sampling")]
    try:
        from traceway.ui.routes import ui_routes
    except ImportError:
        pass
    else:
        routes += ui_routes()
    return Starlette(routes=routes, middleware=[Middleware(PrettyPrintMiddleware)])


def zipkin_app(ingest: Ingest, store: Reader, autocomplete_keys: tuple[str, ...] = ()) -> Starlette:
    """Zipkin's port: the collector's ingest and the query side's read API, as Zipkin serves them.

    Its tokens and CORS (--zipkin-cors-origins) come from Security.zipkin_app."""
    app = Starlette(routes=zipkin_routes(ingest) + zipkin_read_routes(store, autocomplete_keys))
    # A trailing slash (``/api/v2/trace/abc/``) is a 404 as in Zipkin, not a redirect.
    app.router.redirect_slashes = False
    return app


SPOOL_DIR = "spool"
QUARANTINE_DIR = "quarantine"
# After SIGTERM, once the receivers have stopped, storing what they accepted may
# take this long; the rest stays in the spools for the next start.
DRAIN_S = 20.0


def _spools_left(spool_dir: Path) -> list[Path]:
    """The main spool and the receiver workers' spools an earlier run left. They
    are stored before serving, through ``drain_spool``: a store that can tell
    which spans it already holds (ClickHouse, after a ``kill -9`` between an
    insert and its views' commits) then inserts none twice. Under tail sampling
    the sampler holds them again, after ``rederive_stored_copies``."""
    if not spool_dir.exists():
        return []
    return [spool_dir, *sorted(spool_dir.glob(WORKER_DIR.format("*")))]


class TracewayServer:
    def __init__(self, settings: Settings, config: Config | None = None) -> None:
        config = config or Config()
        self.settings = settings
        self.config = config
        self.telemetry = Telemetry()
        self.security = replace(settings.security(),
                                on_refusal=self.telemetry.count_unauthenticated)
        self.store = open_store(settings.storage, settings.data_dir, settings.retention_ns)
        if hasattr(self.store, "size_bytes"):
            self.telemetry.watch_store_size(self.store.size_bytes)
        self.quarantine = Quarantine(settings.data_dir / QUARANTINE_DIR, self.telemetry)
        self.strategies = Strategies(config.remote or RemoteConfig())
        self.sampler: TailSampler | None = None
        self.spool: Spool | None = None  # the plain path's; the sampler owns its own
        # A query process has no receivers, no queue and no spool.
        self.receives = settings.role in ("all", "collector")
        self.queue = WriteQueue(self.store, self.telemetry,
                                max_bytes=settings.max_queue_bytes_int,
                                quarantine=self.quarantine)
        stage: Stage = self.queue
        spool_dir = settings.data_dir / SPOOL_DIR
        spool: Spool | None = None
        if not self.receives:
            pass
        elif config.tail is not None:
            for directory in _spools_left(spool_dir):
                rederive_stored_copies(directory, self.store)
            wait_s = config.tail.decision_wait_ns / 1e9
            spool = Spool(spool_dir, segment_age_s=max(0.5, min(wait_s, 10.0)),
                          quarantine=self.quarantine)
            self.sampler = stage = TailSampler(self.queue, spool, config.tail, self.telemetry)
            tune_gc_for_holding()
        else:
            drained = sum(drain_spool(directory, self.store, self.quarantine)
                          for directory in _spools_left(spool_dir))
            if drained:
                log.info("stored %d spans the last run had acknowledged from its spool", drained)
            self.spool = spool = Spool(spool_dir, segment_age_s=1.0)
            stage = SpooledWrites(self.queue, spool)
        self._active_spool = spool
        # What receiver workers (--workers) spool, this process stores.
        self.worker_spools = (WorkerSpoolReader(spool_dir, (self.sampler or self.queue).submit,
                                                self.quarantine, self._stored_from_worker)
                              if self.receives else None)
        self.workers: ReceiverWorkers | None = None
        self.telemetry.watch_write_path(lambda: self.queue.failing is None,
                                        lambda: spool is None or spool.problem is None)
        self.ingest = Ingest(stage, self.telemetry, [self.strategies.observe],
                             max_in_flight_bytes=in_flight_share(settings))
        # ClickHouse ages data out by TTL; DuckDB and memory by this loop.
        self.retention = (RetentionLoop(self.store, settings.retention_ns, self.telemetry)
                          if self.receives and hasattr(self.store, "delete_before") else None)
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._grpc: grpc.aio.Server | None = None
        self._stopping = asyncio.Event()

    def store_description(self) -> str:
        url = self.settings.storage or "duckdb (in --data-dir)"
        return url.split("@")[-1] if "://" in url else url  # no credentials in logs

    def problems(self) -> list[str]:
        """What keeps the write path from accepting spans now (empty: ready)."""
        spool = self._active_spool
        found = [problem for problem in (self.queue.failing, spool.problem if spool else None)
                 if problem]
        return found + (self.workers.problems() if self.workers is not None else [])

    def _stored_from_worker(self, batch: SpanBatch) -> None:
        self.telemetry.spans_from_workers.inc(len(batch))
        self.strategies.observe(batch)

    def _listener(self, app: ASGIApp, port: int) -> tuple[Listener, socket.socket]:
        return http_listener(app, self.settings.host, port, self.security)

    async def start(self) -> None:
        s = self.settings
        if self.sampler is not None:
            replayed = self.sampler.replay()
            if replayed:
                log.info("tail sampling: %d spans from the spool wait for their decision", replayed)
            self.sampler.start()
        if self.spool is not None:
            self.spool.start()
        if self.worker_spools is not None:
            if s.workers > 1:
                self.worker_spools.start()
            else:  # an earlier run's workers may have left spans
                await asyncio.to_thread(self.worker_spools.drain)
        guard = self.security
        bound = [self._listener(guard.ui_app(ui_app(self.store, self.telemetry, self.strategies,
                                                    query_api=s.role != "collector",
                                                    problems=self.problems)),
                                s.ui_port)]
        if self.receives:
            bound += [
                self._listener(guard.ingest_app(otlp_http_app(self.ingest), guard.otlp_cors_origins),
                               s.otlp_http_port),
                self._listener(guard.zipkin_app(zipkin_app(
                    self.ingest, self.store, s.zipkin_autocomplete_key_list)), s.zipkin_port),
            ]
        if self.config.remote is not None and s.remote_sampling_port:
            bound.append(self._listener(guard.ingest_app(remote_sampling_app(self.strategies)),
                                        s.remote_sampling_port))
        self._listeners = [listener for listener, _ in bound]
        if self.receives:
            self._grpc = otlp_grpc_server(self.ingest, f"{s.host}:{s.otlp_grpc_port}", guard)
            await self._grpc.start()
        self._tasks = [asyncio.create_task(listener.serve(sockets=[sock]))
                       for listener, sock in bound]
        while not all(listener.started for listener in self._listeners):
            for task in self._tasks:
                if task.done():  # a port was taken, or similar
                    raise OSError(f"a listener failed to start: {task.exception() or 'exited'}")
            await asyncio.sleep(0.02)
        if self.receives and s.workers > 1:
            otlp_http_sock = bound[1][1]
            self.workers = ReceiverWorkers(s, s.workers - 1, otlp_http_sock,
                                           s.data_dir / SPOOL_DIR, self.telemetry,
                                           store_problem=lambda: self.queue.failing)
            await self.workers.start()
        if self.retention is not None:
            self.retention.start()
        exposure = guard.exposure_warning(s.host)
        if exposure:
            log.warning("!!! SECURITY: %s", exposure)
        log.info("traceway ready (role %s, storage %s): OTLP gRPC %s:%d, OTLP HTTP %d, Zipkin %d, "
                 "UI and API %s://%s:%d", s.role, self.store_description(), s.host,
                 s.otlp_grpc_port, s.otlp_http_port, s.zipkin_port,
                 "https" if guard.tls_cert else "http", s.host, s.ui_port)

    async def stop(self) -> None:
        """SIGTERM: stop accepting, answer the requests in flight, then store what was
        accepted for up to DRAIN_S seconds without waiting out a store outage. What
        is not stored by then stays in the spools (acknowledged = fsynced there) and
        the next start stores it: a stop is prompt, never a hang."""
        log.info("traceway stopping: draining accepted spans")
        if isinstance(self.store, WaitsOutOutages):
            self.store.stop_waiting()
        workers_stopped = asyncio.create_task(self.workers.stop()) if self.workers else None
        for listener in self._listeners:
            listener.should_exit = True
        if self._grpc is not None:
            await self._grpc.stop(grace=30)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if workers_stopped is not None:
            await workers_stopped
        await asyncio.to_thread(self._store_accepted, time.monotonic() + DRAIN_S)
        if self.retention is not None:
            self.retention.stop()
        if self.queue.close(0):  # a writer still writing would use the store after close
            self.store.close()
        else:
            log.error("the store write in progress did not end within %g s; exiting", DRAIN_S)
        left = sorted((self.settings.data_dir / SPOOL_DIR).rglob("segment-*.spool"))
        if left:
            log.warning("%d spool segments hold spans not stored yet: the next start stores "
                        "them", len(left))
        log.info("traceway stopped")

    def _store_accepted(self, deadline: float) -> None:
        """Store what the receivers (and workers) accepted until ``deadline`` or a
        write fails; the spools keep the rest."""
        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        if self.worker_spools is not None:
            self.worker_spools.close()
            self.worker_spools.drain(left())
        if self.sampler is not None:
            # Held traces are decided now and the kept ones queued before the queue closes.
            self.sampler.close(left())
        self.queue.close(left())
        if self.spool is not None:
            # Segments whose spans are all stored go; the others stay for the next start.
            self.spool.close()

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(RateLimitedLoopErrors())
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            await self.start()
            # What start-up built (modules, the store, the listeners) lives as long as the
            # process: frozen, the collector's full passes stop walking it again and again.
            gc.collect()
            gc.freeze()
            await self._stopping.wait()
        finally:
            await self.stop()

    def reload(self) -> None:
        """SIGHUP: re-read the config file; an invalid one is logged and ignored."""
        path = self.settings.config
        if not path:
            log.info("SIGHUP: no --config file to reload")
            return
        try:
            config = load_config(path)
        except ConfigError as exc:
            self.telemetry.config_reloads.labels("refused").inc()
            log.error("config reload refused, the running config stays: %s", exc)
            return
        if (config.tail is None) != (self.sampler is None):
            log.warning("config reload: turning tail sampling on or off needs a restart")
        elif self.sampler is not None and config.tail is not None:
            self.sampler.reconfigure(config.tail)
        self.strategies.reconfigure(config.remote or RemoteConfig())
        self.config = Config(tail=config.tail if self.sampler else None, remote=config.remote)
        self.telemetry.config_reloads.labels("applied").inc()
        log.info("config reloaded from %s", path)


def serve(settings: Settings, config: Config | None = None) -> int:
    # The writer thread hands the GIL back and forth with the decoders many
    # times per commit; a shorter switch interval keeps it from waiting 5 ms each.
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_descriptor_limit()
    server = TracewayServer(settings, config)
    try:
        with asyncio.Runner(loop_factory=OneAcceptPerWakeup) as runner:
            runner.run(server.run_until_signalled())
    except OSError as exc:
        log.error("%s", exc)
        return 1
    return 0
