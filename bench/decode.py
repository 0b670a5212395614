"""OTLP protobuf request -> SpanBatch: the C decoder against the pure-Python path.

Decodes the ingest benchmark's requests (512 spans, ~8 attributes each) in-process and
prints CPU microseconds per span for each path, interleaved over several rounds.

    .venv/bin/python bench/decode.py [--rounds 5] [--requests 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from traceway.convert import otlp_native
from traceway.convert.otlp import spans_from_otlp


def python_path(body: bytes) -> int:
    return len(spans_from_otlp(ExportTraceServiceRequest.FromString(body)).batch)


def native_path(body: bytes) -> int:
    batch = otlp_native.batch_from_otlp_native(body)
    assert batch is not None, "the C decoder declined a benchmark request"
    return len(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    bodies = [synthetic.request_of(512, seed=seed).SerializeToString() for seed in range(16)]
    paths = {"python": python_path}
    if otlp_native.AVAILABLE:
        paths["c"] = native_path
    results: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, decode in paths.items():
            spans = 0
            start = time.process_time()
            for i in range(args.requests):
                spans += decode(bodies[i % len(bodies)])
            results[name].append((time.process_time() - start) / spans * 1e6)
    for name, figures in results.items():
        print(f"{name:>7}: {min(figures):.2f} µs/span CPU (best of {args.rounds}), "
              f"median {sorted(figures)[len(figures) // 2]:.2f}")


if __name__ == "__main__":
    main()
