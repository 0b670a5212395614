"""RED metrics and dependencies from the rollups, at 1M and 10M stored spans.

Fills a DuckDB store through its Writer (rollups maintained on write) with the
synthetic traffic of bench/query.py (20 services, traces of 8 spans over the
last hours, 1M spans an hour), then times:

- ``red_last_hour_all_services``: the services overview (every service, every
  kind: rollup read + merge + rates, error ratios, p50/p95/p99 and sparklines);
- ``monitor_latencies_p95_1h``: one Jaeger Monitor-tab query (a service's p95
  by operation, one point a minute, 10-minute windows);
- ``dependencies_1h``: ``/api/dependencies`` for the last hour, edge rollup current
  (the window rounded out to whole minutes, as the store answers it).

Each figure has wall-clock p50/p99 and ``cpu_p50_ms``, the process's CPU time (DuckDB's
threads included): on a machine shared with other work, the steadier figure.

After the fill it runs the store's background maintenance once and reports its
time (``maintain_after_fill_s``): compacting the partial RED rows of every write
and computing the edges of every minute. A live server does this every 30 s for
the minutes that just passed.

    .venv/bin/python bench/red.py [--spans 1000000 10000000] [--repeat 50] [--keep DIR]

``--keep DIR`` keeps each filled store in ``DIR/<spans>`` and reuses it on the next
run (times are then measured from the end of that fill), so a change can be
measured again without the fill; a store from older rollup code is rebuilt by the
store's own backfill when opened (reported as ``open_s``).
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
from query import HOUR_NS, fill, timed
from traceway.analysis.red import MINUTE_NS, Grid, latency_ms, series_of, windows
from traceway.convert.red_json import red_table_json, sparkline_grid
from traceway.storage.duckdb import DuckDBStore


def filled_store(spans: int, directory: Path, result: dict) -> tuple[DuckDBStore, int]:
    """A store holding ``spans`` spans of the fill in ``directory`` (filled now unless
    an earlier run left one there) and the time the fill ended."""
    filled = directory / "filled.json"
    started = time.perf_counter()
    store = DuckDBStore(directory)
    if filled.exists():
        result["open_s"] = round(time.perf_counter() - started, 1)
        return store, json.loads(filled.read_text())["now_ns"]
    fill(store, spans, span_hours=max(2.0, spans / 1_000_000))
    result["fill_spans_per_s"] = round(spans / (time.perf_counter() - started))
    store.checkpoint()
    now_ns = time.time_ns()
    filled.write_text(json.dumps({"now_ns": now_ns}))
    return store, now_ns


def measure(spans: int, repeat: int, keep: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        directory = keep / str(spans) if keep else Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        result: dict = {"spans": spans}
        store, now_ns = filled_store(spans, directory, result)
        (partial_rows,) = store._con.execute("SELECT count(*) FROM red_rollup").fetchone()
        started = time.perf_counter()
        store.maintain(now_ns + 2 * MINUTE_NS)
        result["maintain_after_fill_s"] = round(time.perf_counter() - started, 1)
        (rollup_rows,) = store._con.execute("SELECT count(*) FROM red_rollup").fetchone()
        result["red_rollup_rows_partial_then_compacted"] = [partial_rows, rollup_rows]
        sparklines = sparkline_grid(Grid.of(now_ns, HOUR_NS, MINUTE_NS, MINUTE_NS))

        def overview() -> list:
            rows = store.red(*sparklines.rows_range_ns(), sparklines.bucket_ns, by_operation=False)
            return red_table_json(rows, sparklines)

        result["red_services_listed"] = len(overview())
        result["red_last_hour_all_services"] = timed(overview, repeat)
        services = sorted({row["service"] for row in overview()})
        rng = random.Random(3)
        grid = Grid.of(now_ns, HOUR_NS, MINUTE_NS, 10 * MINUTE_NS)

        def monitor() -> list:
            rows = store.red(*grid.rows_range_ns(), grid.bucket_ns, services=[rng.choice(services)])
            return series_of(windows(rows, grid), latency_ms(0.95))

        result["monitor_latencies_p95_1h"] = timed(monitor, repeat)
        result["dependency_links"] = len(store.dependencies(now_ns - HOUR_NS, now_ns))
        result["dependencies_1h"] = timed(lambda: store.dependencies(now_ns - HOUR_NS, now_ns),
                                          repeat)
        store.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="keep filled stores here and reuse them")
    args = parser.parse_args()
    for spans in args.spans:
        print(json.dumps(measure(spans, args.repeat, args.keep), indent=2), flush=True)


if __name__ == "__main__":
    main()
