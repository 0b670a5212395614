"""Ingest throughput of a real `traceway serve`, with durability.

A load generator in its own process sends pre-encoded OTLP/HTTP protobuf
requests of 512 spans (about 8 attributes each, 20 services, fresh trace ids
in every request) over 4 keep-alive connections, as fast as the server
acknowledges them. Prints spans/s acknowledged, request latency p50/p99, that
acknowledged spans are queryable, and the server's memory.

    .venv/bin/python bench/ingest.py [--seconds 20] [--connections 4] [--python-decoder]
                                     [--server-args "--workers 2"]

Acknowledged spans reach the store a moment after the answer (the spool answers first),
so the "queryable" figure waits up to 10 s for the last 50 acknowledged traces and says
how long that took. Server CPU is reported per process of the server's process tree.

With `--workers 2` the store, not the receivers, is the limit: main's CPU per span it stored
fell from 14.5 µs to 8.9-11.8 and `spans_per_second_stored_during_load` rose from 38-43k to
60-82k (same loaded machine, interleaved) once the writer commits whole DuckDB row groups
from a backlog and its copy check reads only traces already stored (bench/store_write.py).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

from traceway.testing import ServerProcess

SPANS_PER_REQUEST = 512
TEMPLATES = 16


def _templates() -> list[tuple[bytes, list[list[int]]]]:
    """Encoded requests plus, per trace, the offsets of its id in the bytes."""
    out = []
    for seed in range(TEMPLATES):
        request = synthetic.request_of(SPANS_PER_REQUEST, seed=seed)
        body = request.SerializeToString()
        ids = {span.trace_id for rs in request.resource_spans for ss in rs.scope_spans
               for span in ss.spans}
        offsets = []
        for trace_id in ids:
            found, at = [], body.find(trace_id)
            while at >= 0:
                found.append(at)
                at = body.find(trace_id, at + 1)
            offsets.append(found)
        out.append((body, offsets))
    return out


def _fresh(body: bytes, offsets: list[list[int]]) -> tuple[bytes, bytes]:
    """The template with new random trace ids; returns (body, one trace id)."""
    patched = bytearray(body)
    trace_id = b""
    for places in offsets:
        trace_id = os.urandom(16)
        for at in places:
            patched[at:at + 16] = trace_id
    return bytes(patched), trace_id


def _connection_loop(port: int, seconds: float, templates, results: list, seen: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        body, trace_id = _fresh(*templates[i % len(templates)])
        i += 1
        started = time.perf_counter()
        conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        answer = conn.getresponse()
        answer.read()
        elapsed = time.perf_counter() - started
        if answer.status == 200:
            results.append(elapsed)
            seen.append(trace_id.hex())
        else:
            results.append(-answer.status)
            time.sleep(0.05)


def load_generator(port: int, seconds: float, connections: int, queue: mp.Queue) -> None:
    templates = _templates()
    queue.put("ready")
    results: list[float] = []
    seen: list[str] = []
    threads = [threading.Thread(target=_connection_loop,
                                args=(port, seconds, templates, results, seen))
               for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((time.perf_counter() - started, results, seen[-50:]))


def _queryable(server: ServerProcess, trace_id: str) -> bool:
    try:
        return bool(server.api(f"/api/traces/{trace_id}")["data"])
    except urllib.error.HTTPError:
        return False


def _queryable_after(server: ServerProcess, trace_ids: list[str], timeout_s: float = 10.0) -> tuple[int, float]:
    """How many of ``trace_ids`` are queryable, waiting up to ``timeout_s``; and the wait."""
    started = time.monotonic()
    pending = list(trace_ids)
    while pending and time.monotonic() - started < timeout_s:
        pending = [t for t in pending if not _queryable(server, t)]
        if pending:
            time.sleep(0.1)
    return len(trace_ids) - len(pending), time.monotonic() - started


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def _metrics(server: ServerProcess) -> dict[str, float]:
    with urllib.request.urlopen(server.ui_url + "/metrics") as answer:
        text = answer.read().decode()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line.startswith("traceway_") and " " in line}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--python-decoder", action="store_true",
                        help="the server decodes OTLP in pure Python (TRACEWAY_NATIVE_DECODER=0)")
    parser.add_argument("--server-args", default="", help="extra `traceway serve` arguments")
    args = parser.parse_args()
    env = {"TRACEWAY_NATIVE_DECODER": "0"} if args.python_decoder else {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", extra_args=shlex.split(args.server_args),
                               env=env).start()
        try:
            queue: mp.Queue = mp.Queue()
            generator = mp.Process(target=load_generator, args=(
                server.otlp_http_port, args.seconds, args.connections, queue))
            generator.start()
            assert queue.get(timeout=120) == "ready"
            pids = process_tree(server.process.pid)
            cpu_before = {pid: cpu_seconds(pid) for pid in pids}
            elapsed, results, last_ids = queue.get(timeout=args.seconds + 300)
            cpu_by_process = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in pids}
            stored_at_end = _metrics(server).get("traceway_write_batch_spans_sum", 0.0)
            cpu = sum(cpu_by_process.values())
            generator.join()
            ok = sorted(r for r in results if r >= 0)
            refused = [r for r in results if r < 0]
            spans = len(ok) * SPANS_PER_REQUEST
            queryable, waited_s = _queryable_after(server, last_ids)
            rss, peak = rss_mib(server.process.pid)
            peaks = {str(pid): round(rss_mib(pid)[1]) for pid in pids}
            values = _metrics(server)
            commits = values.get("traceway_write_batch_spans_count", 0)
            print(json.dumps({
                "seconds": round(elapsed, 1), "connections": args.connections,
                "requests_acknowledged": len(ok), "requests_refused": len(refused),
                "spans_per_second_acknowledged": round(spans / elapsed),
                # What the store committed while the load ran (the spool holds the rest).
                "spans_per_second_stored_during_load": round(stored_at_end / elapsed),
                "request_p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
                "request_p99_ms": round(ok[int(len(ok) * 0.99) - 1] * 1000, 1) if ok else None,
                "last_acknowledged_traces_queryable": f"{queryable}/{len(last_ids)}",
                "queryable_after_s": round(waited_s, 2),
                "server_cpu_us_per_span": round(cpu / spans * 1e6, 2) if spans else None,
                "server_cpu_us_per_span_by_process": {
                    str(pid): round(used / spans * 1e6, 2) for pid, used in cpu_by_process.items()
                } if spans else None,
                "server_rss_mib": round(rss), "server_peak_rss_mib": round(peak),
                "server_peak_rss_mib_by_process": peaks,
                "commits": int(commits),
                "spans_per_commit": round(values["traceway_write_batch_spans_sum"] / commits)
                if commits else None,
                "commit_ms_mean": round(values["traceway_write_duration_seconds_sum"] / commits
                                        * 1000, 1) if commits else None,
            }, indent=2))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
