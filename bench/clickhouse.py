"""The ClickHouse backend on chdb (the engine in-process) at 1M and 10M spans.

Fills ``otel_traces`` through the Writer with the same synthetic traffic as
bench/query.py (20 services, ~10 attributes per span, traces of 8 spans in
time order), in write-queue-sized batches, then times trace by id (through
the lookup table), a search (service + tag + min duration, last hour), a
service-only search, services, operations, dependencies, RED and edges (an
hour), and reports bytes
per span on disk (all of Traceway's tables, compressed, after merges settle).

    .venv/bin/python bench/clickhouse.py [--spans 1000000 10000000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from query import HOUR_NS, _fields, fill, timed
from traceway.storage.api import TraceQuery
from traceway.storage.clickhouse import ClickHouseStore, Location, connect
from traceway.storage.distinct import DistinctReader


def bytes_on_disk(client, database: str) -> int:
    return int(client.query(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {db:String} AND active",
        parameters={"db": database}).result_rows[0][0])


def measure(client, spans: int, repeat: int) -> dict:
    database = f"bench_{spans}"
    client.command(f"DROP DATABASE IF EXISTS {database}")
    store = DistinctReader(ClickHouseStore(client, Location(database=database)))
    started = time.perf_counter()
    ids = fill(store, spans, span_hours=max(2.0, spans / 1_000_000))
    fill_s = time.perf_counter() - started
    client.command(f"OPTIMIZE TABLE {database}.otel_traces_trace_id_ts FINAL")
    now_ns = time.time_ns()
    rng = random.Random(2)
    result = {"spans": spans, "ingest_spans_per_s": round(spans / fill_s),
              "bytes_per_span": round(bytes_on_disk(client, database) / spans, 1)}
    result["trace_by_id"] = timed(lambda: store.get_trace(rng.choice(ids)), repeat)
    result["trace_by_id_spans"] = len(store.get_trace(ids[0]))
    services = [f"service-{i:02d}" for i in range(20)]
    search = TraceQuery(now_ns - HOUR_NS, now_ns, tags={"http.status_code": "500"},
                        duration_min_ns=30_000_000, limit=20)
    result["search_service_tag_minduration_1h"] = timed(lambda: store.find_traces(
        TraceQuery(**{**_fields(search), "service": rng.choice(services)})), repeat // 4)
    result["search_found"] = len(store.find_traces(TraceQuery(
        **{**_fields(search), "service": services[3]})))
    result["search_service_only_1h"] = timed(lambda: store.find_traces(TraceQuery(
        now_ns - HOUR_NS, now_ns, service=rng.choice(services))), repeat // 4)
    result["services"] = timed(store.services, repeat)
    result["operations"] = timed(lambda: store.operations(rng.choice(services)), repeat)
    result["dependencies_1h"] = timed(lambda: store.dependencies(now_ns - HOUR_NS, now_ns), 5)
    if hasattr(store, "red"):  # the Rollups capability: the RED view and edges at read time
        hour = (now_ns // 60_000_000_000 - 60) * 60_000_000_000
        result["red_1h_by_operation"] = timed(lambda: store.red(hour, hour + HOUR_NS), 20)
        result["edges_1h"] = timed(lambda: store.edges(hour, hour + HOUR_NS), 5)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--path", help="chdb directory (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        client = connect(dsn=f"chdb://{args.path or tmp}")
        for spans in args.spans:
            print(json.dumps(measure(client, spans, args.repeat), indent=2), flush=True)
        client.close()


if __name__ == "__main__":
    main()
