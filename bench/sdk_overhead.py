"""What tracing costs a Python service, per span, from span creation to bytes on a socket.

    PYTHONPATH=src .venv/bin/python bench/sdk_overhead.py [--spans N] [--max-seconds S]

Every pipeline sends OTLP/HTTP to a sink subprocess on 127.0.0.1 (no other
network). For each pipeline: start N spans shaped like an HTTP server span,
end them, then flush; time = creation + processor + encoding + export, wall
clock, one producer thread on this machine. "exported" is what the sink
counted, so silent drops show up as a shortfall. Each run is bounded by
--max-seconds of span creation.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as StockOTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from traceway.instrument import OTLPSpanExporter, TracewaySpanProcessor
from traceway.instrument.settings import resource_attributes

RESOURCE = Resource.create(resource_attributes("bench-service", {"service.version": "1.2.3"}))


def start_sink() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "traceway.instrument.testing"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def sink_count(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/count", timeout=5) as r:
        return int(r.read())


def run_spans(tracer: trace.Tracer, n: int, max_seconds: float) -> int:
    """Create up to ``n`` server spans with a child; returns how many spans were ended."""
    server = trace.SpanKind.SERVER
    deadline = time.perf_counter() + max_seconds
    done = 0
    for i in range(0, n, 2):
        with tracer.start_as_current_span(
            "GET /api/orders/{id}",
            kind=server,
            attributes={
                "http.request.method": "GET",
                "http.route": "/api/orders/{id}",
                "url.path": f"/api/orders/{i % 100}",
                "http.response.status_code": 200,
                "server.address": "127.0.0.1",
            },
        ), tracer.start_as_current_span("SELECT orders") as child:
            child.set_attribute("db.system", "postgresql")
        done += 2
        if not i % 1000 and time.perf_counter() > deadline:
            break
    return done


def measure(name: str, make: Callable[[], tuple[trace.Tracer, Callable[[], Any]]], n: int, max_seconds: float, endpoint: str | None, repeat: int) -> dict[str, Any]:
    """Best of ``repeat`` runs: wall clock, and CPU time of this process (all its threads, not the sink's)."""
    best: dict[str, Any] = {}
    for _ in range(repeat):
        before = sink_count(endpoint) if endpoint else 0
        tracer, finish = make()
        t0, c0 = time.perf_counter(), time.process_time()
        ended = run_spans(tracer, n, max_seconds)
        finish()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        exported = sink_count(endpoint) - before if endpoint else None
        row = {"name": name, "spans": ended, "us_per_span": elapsed / ended * 1e6, "cpu_us_per_span": cpu / ended * 1e6,
               "spans_per_s": ended / elapsed, "exported": exported}
        if not best or row["us_per_span"] < best["us_per_span"]:
            best = row
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per pipeline; the fastest is reported")
    args = parser.parse_args()
    sink, endpoint = start_sink()
    try:
        rows = []

        def noop() -> tuple[trace.Tracer, Callable[[], Any]]:
            return trace.NoOpTracerProvider().get_tracer("bench"), lambda: None

        def bare() -> tuple[trace.Tracer, Callable[[], Any]]:
            return TracerProvider(resource=RESOURCE, shutdown_on_exit=False).get_tracer("bench"), lambda: None

        def stock() -> tuple[trace.Tracer, Callable[[], Any]]:
            tp = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
            tp.add_span_processor(BatchSpanProcessor(StockOTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
            return tp.get_tracer("bench"), tp.shutdown

        def traceway(ratio: float) -> Callable[[], tuple[trace.Tracer, Callable[[], Any]]]:
            def make() -> tuple[trace.Tracer, Callable[[], Any]]:
                tp = TracerProvider(resource=RESOURCE, sampler=ParentBased(TraceIdRatioBased(ratio)), shutdown_on_exit=False)
                tp.add_span_processor(TracewaySpanProcessor(OTLPSpanExporter.for_protocol("http/protobuf", endpoint)))
                return tp.get_tracer("bench"), tp.shutdown

            return make

        rows.append(measure("no-op API", noop, args.spans, args.max_seconds, None, args.repeat))
        rows.append(measure("bare SDK (no processor)", bare, args.spans, args.max_seconds, None, args.repeat))
        rows.append(measure("stock BatchSpanProcessor + OTLP/HTTP", stock, args.spans, args.max_seconds, endpoint, args.repeat))
        rows.append(measure("traceway pipeline", traceway(1.0), args.spans, args.max_seconds, endpoint, args.repeat))
        rows.append(measure("traceway pipeline, 1% sampled", traceway(0.01), args.spans, args.max_seconds, endpoint, args.repeat))
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    bare_us, bare_cpu = rows[1]["us_per_span"], rows[1]["cpu_us_per_span"]
    print(f"{'pipeline':38} {'spans':>7} {'µs/span':>8} {'over SDK':>9} {'CPU µs':>7} {'over SDK':>9} {'spans/s':>8} {'exported':>8}")
    for r in rows:
        exported = "-" if r["exported"] is None else f"{r['exported']}"
        print(
            f"{r['name']:38} {r['spans']:>7} {r['us_per_span']:>8.2f} {r['us_per_span'] - bare_us:>+9.2f}"
            f" {r['cpu_us_per_span']:>7.2f} {r['cpu_us_per_span'] - bare_cpu:>+9.2f} {r['spans_per_s']:>8.0f} {exported:>8}"
        )
    print("µs/span: wall clock per span from creation to acknowledged export (best of --repeat runs);")
    print("CPU µs: this process's CPU time per span, all threads; 'over SDK': added to the bare SDK.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
