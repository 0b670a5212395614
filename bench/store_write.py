"""DuckDBStore.write in-process: µs per span (wall and CPU) as the store grows.

Writes groups of ``--group`` spans (the writer's group commit under load: 20,000)
decoded from the ingest benchmark's requests (bench/ingest.py: 512 spans, fresh
trace ids, start times from when the requests were built) into a fresh store, and
prints the mean per span over each tenth of ``--spans``, then one write of a group
already stored (every span a copy: RED must not count it again).

    .venv/bin/python bench/store_write.py [--spans 1000000] [--group 20000] [--threads 2]

CPU is the process's (DuckDB's threads included); wall is what the writer thread
waits. On a shared 2-core machine compare CPU figures, interleaving runs.

Measured on such a machine (load ~7 from other work), 1M spans, two interleaved rounds:
groups of 20,000 5.8-6.5 µs CPU/span (a checkpoint every ~17 writes shows as a tenth
at 8-10); groups of 122,880, one DuckDB row group, 2.9-3.5 (no WAL copy, no checkpoint
spikes). All of this benchmark's spans start within one second, so the copy check used
to read every stored span in each write; it now reads only the traces trace_index holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import SPANS_PER_REQUEST, _fresh, _templates

from traceway.convert.otlp_native import batch_from_otlp_native
from traceway.model import SpanBatch
from traceway.storage.duckdb.store import DuckDBStore


def groups(count: int, group: int) -> list[SpanBatch]:
    templates = _templates()
    per_group = max(1, group // SPANS_PER_REQUEST)
    out = []
    for g in range(count):
        parts = []
        for i in range(per_group):
            batch = batch_from_otlp_native(_fresh(*templates[(g * per_group + i) % len(templates)])[0])
            assert batch is not None, "the C decoder is not built"
            parts.append(batch)
        out.append(SpanBatch.concat(parts))
    return out


def timed_writes(store: DuckDBStore, batches: list[SpanBatch]) -> dict[str, float]:
    spans = sum(map(len, batches))
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        store.write(batch)
    return {"wall_us_per_span": round((time.perf_counter() - wall) / spans * 1e6, 2),
            "cpu_us_per_span": round((time.process_time() - cpu) / spans * 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--group", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads of the store")
    args = parser.parse_args()
    batches = groups(max(10, args.spans // args.group), args.group)
    tenth = len(batches) // 10
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(tmp, threads=args.threads)
        try:
            by_tenth = [timed_writes(store, batches[i * tenth:(i + 1) * tenth]) for i in range(10)]
            again = timed_writes(store, batches[-1:])
        finally:
            store.close()
    spans = tenth * 10 * len(batches[0])
    print(json.dumps({
        "spans": spans, "group": len(batches[0]), "threads": args.threads,
        "wall_us_per_span": round(sum(t["wall_us_per_span"] for t in by_tenth) / 10, 2),
        "cpu_us_per_span": round(sum(t["cpu_us_per_span"] for t in by_tenth) / 10, 2),
        "cpu_us_per_span_by_tenth": [t["cpu_us_per_span"] for t in by_tenth],
        "group_written_again": again,
    }, indent=2))


if __name__ == "__main__":
    main()
