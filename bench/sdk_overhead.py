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
        ):
            with tracer.start_as_current_span("SELECT orders") as child:
                child.set_attribute("db.system", "postgresql")
        done += 2
        if not i % 1000 and time.perf_counter() > deadline:
            break
    return done


def measure(name: str, make: Callable[[], tuple[trace.Tracer, Callable[[], Any]]], n: int, max_seconds: float, endpoint: str | None) -> dict[str, Any]:
    before = sink_count(endpoint) if endpoint else 0
    tracer, finish = make()
    t0 = time.perf_counter()
    ended = run_spans(tracer, n, max_seconds)
    finish()
    elapsed = time.perf_counter() - t0
    exported = sink_count(endpoint) - before if endpoint else None
    return {"name": name, "spans": ended, "us_per_span": elapsed / ended * 1e6, "spans_per_s": ended / elapsed, "exported": exported}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=20.0)
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

        rows.append(measure("no-op API", noop, args.spans, args.max_seconds, None))
        rows.append(measure("bare SDK (no processor)", bare, args.spans, args.max_seconds, None))
        rows.append(measure("stock BatchSpanProcessor + OTLP/HTTP", stock, args.spans, args.max_seconds, endpoint))
        rows.append(measure("traceway pipeline", traceway(1.0), args.spans, args.max_seconds, endpoint))
        rows.append(measure("traceway pipeline, 1% sampled", traceway(0.01), args.spans, args.max_seconds, endpoint))
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    bare_us = rows[1]["us_per_span"]
    print(f"{'pipeline':40} {'spans':>8} {'µs/span':>9} {'over SDK':>9} {'spans/s':>9} {'exported':>9}")
    for r in rows:
        exported = "-" if r["exported"] is None else f"{r['exported']}"
        overhead = r["us_per_span"] - bare_us
        print(f"{r['name']:40} {r['spans']:>8} {r['us_per_span']:>9.2f} {overhead:>+9.2f} {r['spans_per_s']:>9.0f} {exported:>9}")
    print("µs/span includes span creation; 'over SDK' is what the processor and export add to the bare SDK.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
