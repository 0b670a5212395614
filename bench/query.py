"""Query latency and size of the DuckDB store at 1M and 10M spans.

Fills a store through its Writer with synthetic traffic (20 services, ~8
attributes per span, traces of 8 spans, arriving in time order over the last
hours like real ingest), then times: trace by id, search (service + tag + min
duration, last hour), 100 results as whole traces, as store-side summaries (what
Jaeger UI's search list needs) and as summaries of whole traces, services, operations, dependencies (last hour); and
reports bytes per span on disk after a checkpoint.

    .venv/bin/python bench/query.py [--spans 1000000 10000000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from opentelemetry.proto.trace.v1.trace_pb2 import Span

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

from traceway.convert.otlp import spans_from_otlp
from traceway.model import SpanBatch
from traceway.storage.api import TraceQuery
from traceway.storage.duckdb import DuckDBStore
from traceway.storage.summary import summarize_trace

BATCH = 16_384
HOUR_NS = 3_600 * 10**9
SERVICES = [f"service-{i:02d}" for i in range(20)]


def _pool(now_ns: int) -> SpanBatch:
    """Real converted spans whose details and resources are reused below."""
    return SpanBatch.concat(spans_from_otlp(synthetic.request_of(512, seed=s, now_ns=now_ns)).batch
                            for s in range(40))


def _unique_attributes(user: int, item: int) -> bytes:
    """Two high-cardinality attributes, as real spans carry (ids in targets, users)."""
    extra = Span()
    extra.attributes.add(key="enduser.id").value.int_value = user
    extra.attributes.add(key="http.target").value.string_value = f"/api/v1/items/{item:06d}"
    return extra.SerializeToString()


def fill(store: DuckDBStore, spans: int, span_hours: float) -> list[bytes]:
    """Write ``spans`` spans starting ``span_hours`` ago until now; return some trace ids."""
    now_ns = time.time_ns()
    pool = _pool(now_ns)
    rng = np.random.default_rng(1)
    first_ns = now_ns - int(span_hours * HOUR_NS)
    step_ns = int(span_hours * HOUR_NS) // spans
    sample_ids: list[bytes] = []
    written = 0
    while written < spans:
        n = min(BATCH, spans - written)
        picks = rng.integers(0, len(pool), n)
        batch = pool.take(picks.tolist())
        users = rng.integers(0, 1_000_000, n).tolist()
        items = rng.integers(0, 1_000_000, n).tolist()
        batch.detail = [d + _unique_attributes(u, i) for d, u, i in zip(batch.detail, users, items)]
        traces = rng.bytes(16 * ((n + 7) // 8))
        batch.trace_id = [traces[(i // 8) * 16:(i // 8) * 16 + 16] for i in range(n)]
        span_ids = rng.bytes(8 * n)
        batch.span_id = [span_ids[i * 8:i * 8 + 8] for i in range(n)]
        batch.parent_span_id = [b"" if i % 8 == 0 else batch.span_id[i - 1] for i in range(n)]
        base = first_ns + written * step_ns
        jitter = rng.integers(0, 2 * 10**9, n)
        batch.start_ns = [base + i * step_ns - int(j) for i, j in enumerate(jitter)]
        store.write(batch)
        sample_ids.append(batch.trace_id[n // 2])
        written += n
    return sample_ids


def timed(fn, repeat: int) -> dict[str, float]:
    """Wall p50/p99 and the p50 of this process's CPU time (the engine's threads
    included): on a shared machine CPU time is the steadier figure."""
    times, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)], 2),
            "cpu_p50_ms": round(statistics.median(cpu), 2)}


def measure_reader(store, ids: list[bytes], now_ns: int, repeat: int) -> dict:
    """The Reader figures every backend reports: trace by id, two searches over
    the last hour, services, operations and dependencies."""
    rng = random.Random(2)
    result = {"trace_by_id": timed(lambda: store.get_trace(rng.choice(ids)), repeat),
              "trace_by_id_spans": len(store.get_trace(ids[0]))}
    search = TraceQuery(now_ns - HOUR_NS, now_ns, tags={"http.status_code": "500"},
                        duration_min_ns=30_000_000, limit=20)
    result["search_service_tag_minduration_1h"] = timed(lambda: store.find_traces(
        TraceQuery(**{**_fields(search), "service": rng.choice(SERVICES)})), repeat // 4)
    result["search_found"] = len(store.find_traces(TraceQuery(
        **{**_fields(search), "service": SERVICES[3]})))
    result["search_service_only_1h"] = timed(lambda: store.find_traces(TraceQuery(
        now_ns - HOUR_NS, now_ns, service=rng.choice(SERVICES))), repeat // 4)
    result["services"] = timed(store.services, repeat)
    result["operations"] = timed(lambda: store.operations(rng.choice(SERVICES)), repeat)
    result["dependencies_1h"] = timed(lambda: store.dependencies(now_ns - HOUR_NS, now_ns), 5)
    return result


def measure(spans: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(tmp)
        started = time.perf_counter()
        ids = fill(store, spans, span_hours=max(2.0, spans / 1_000_000))
        fill_s = time.perf_counter() - started
        store.checkpoint()
        now_ns = time.time_ns()
        rng = random.Random(3)
        result = {"spans": spans, "fill_spans_per_s": round(spans / fill_s),
                  "bytes_per_span": round(store.size_bytes() / spans, 1),
                  **measure_reader(store, ids, now_ns, repeat)}
        limit_100 = {**_fields(TraceQuery(now_ns - HOUR_NS, now_ns)), "limit": 100}
        result["search_100_whole_traces_1h"] = timed(lambda: store.find_traces(TraceQuery(
            **{**limit_100, "service": rng.choice(SERVICES)})), repeat // 4)
        result["search_100_summaries_1h"] = timed(lambda: store.find_trace_summaries(TraceQuery(
            **{**limit_100, "service": rng.choice(SERVICES)})), repeat // 4)
        result["search_100_summarised_from_whole_traces_1h"] = timed(lambda: [
            summarize_trace(t) for t in store.find_traces(TraceQuery(
                **{**limit_100, "service": rng.choice(SERVICES)}))], repeat // 4)
        store.close()
        return result


def _fields(query: TraceQuery) -> dict:
    return {name: getattr(query, name) for name in query.__dataclass_fields__}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    for spans in args.spans:
        print(json.dumps(measure(spans, args.repeat), indent=2), flush=True)


if __name__ == "__main__":
    main()
