"""The ClickHouse backend on chdb (the engine in-process) at 1M and 10M spans.

Fills ``otel_traces`` through the Writer with the same synthetic traffic as
bench/query.py (20 services, ~10 attributes per span, traces of 8 spans in
time order), in write-queue-sized batches, then times trace by id (through
Traceway's trace-ordered projection), a search (service + tag + min duration,
last hour), a service-only search, services, operations and dependencies, and
reports bytes
per span on disk (all of Traceway's tables, compressed, as the fill leaves
them). Ingest is the time spent inside ``write`` (conversion, insert, and the
engine's merges and views running meanwhile), as wall and as CPU seconds: on
a shared machine the CPU figure is the steadier one.

    .venv/bin/python bench/clickhouse.py [--spans 1000000 10000000] [--repeat 200]
        [--path DIR --keep]

With ``--path DIR --keep`` a database filled by an earlier run in DIR is
measured again without filling it (its newest span stands for "now"), so a
read-side change is compared on the same data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from query import fill, measure_reader
from traceway.storage.clickhouse import ClickHouseStore, Location, connect
from traceway.storage.distinct import DistinctReader


def bytes_on_disk(client, database: str) -> int:
    return int(client.query(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {db:String} AND active",
        parameters={"db": database}).result_rows[0][0])


class TimedWriter:
    """Counts the wall and CPU time spent inside ``write``: the ingest figure
    leaves out the synthetic traffic's own making."""

    def __init__(self, store) -> None:
        self.store, self.wall_s, self.cpu_s = store, 0.0, 0.0

    def write(self, batch) -> None:
        started, cpu_started = time.perf_counter(), time.process_time()
        self.store.write(batch)
        self.wall_s += time.perf_counter() - started
        self.cpu_s += time.process_time() - cpu_started


def stored_spans(client, database: str) -> int:
    exists = client.query("SELECT count() FROM system.tables WHERE database = {db:String} "
                          "AND name = 'otel_traces'", parameters={"db": database}).result_rows[0][0]
    return int(client.query(f"SELECT count() FROM {database}.otel_traces").result_rows[0][0]) \
        if exists else 0


def remeasure(client, spans: int, repeat: int) -> dict:
    """The Reader figures over a database an earlier ``--keep`` run filled."""
    database = f"bench_{spans}"
    store = DistinctReader(ClickHouseStore(client, Location(database=database)))
    ids = [bytes.fromhex(t) for (t,) in client.query(
        f"SELECT TraceId FROM {database}.otel_traces_trace_id_ts "
        "ORDER BY cityHash64(TraceId) LIMIT 1000").result_rows]
    newest_ns = int(client.query(
        f"SELECT toUnixTimestamp64Nano(max(Timestamp)) FROM {database}.otel_traces").result_rows[0][0])
    return {"spans": spans, "kept": True,
            "bytes_per_span": round(bytes_on_disk(client, database) / spans, 1),
            **measure_reader(store, ids, newest_ns + 10**9, repeat)}


def measure(client, spans: int, repeat: int, keep: bool = False) -> dict:
    database = f"bench_{spans}"
    if keep and stored_spans(client, database) == spans:
        return remeasure(client, spans, repeat)
    client.command(f"DROP DATABASE IF EXISTS {database}")
    store = DistinctReader(ClickHouseStore(client, Location(database=database)))
    writer = TimedWriter(store)
    started = time.perf_counter()
    ids = fill(writer, spans, span_hours=max(2.0, spans / 1_000_000))
    fill_s = time.perf_counter() - started
    client.command(f"OPTIMIZE TABLE {database}.otel_traces_trace_id_ts FINAL")
    return {"spans": spans, "fill_s": round(fill_s, 1),
            "ingest_spans_per_s": round(spans / writer.wall_s),
            "ingest_spans_per_cpu_s": round(spans / writer.cpu_s),
            "bytes_per_span": round(bytes_on_disk(client, database) / spans, 1),
            **measure_reader(store, ids, time.time_ns(), repeat)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--path", help="chdb directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true",
                        help="reuse a database of the same size filled earlier in --path")
    args = parser.parse_args()
    if args.keep and not args.path:
        parser.error("--keep needs --path")
    with tempfile.TemporaryDirectory() as tmp:
        client = connect(dsn=f"chdb://{args.path or tmp}")
        for spans in args.spans:
            print(json.dumps(measure(client, spans, args.repeat, args.keep), indent=2), flush=True)
        client.close()


if __name__ == "__main__":
    main()
