"""Latency of the diagnosis endpoints on a full sample (1,000 traces), and of the pure
analyses alone.

Sends ``--traces`` synthetic traces of 8 spans (20 services, ~8 attributes a span) to a real
`traceway serve`, then times each /api/analysis/* request ``--repeat`` times (median) and
the analysis functions on the same traces in-process, so the storage read and the analysis
can be told apart.

    .venv/bin/python bench/diagnosis.py [--traces 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

from traceway.analysis.attributes import attribute_differences
from traceway.analysis.coverage import service_coverage
from traceway.analysis.propagation import propagation_health
from traceway.convert.otlp import spans_from_otlp
from traceway.testing import ServerProcess


def _median_s(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    request = synthetic.request_of(args.traces * 8, spans_per_trace=8, seed=1,
                                   now_ns=time.time_ns() - 120 * 10**9)
    traces = spans_from_otlp(request).batch.split_by_trace()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data").start()
        try:
            urllib.request.urlopen(urllib.request.Request(
                server.otlp_http_url + "/v1/traces", data=request.SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"}), timeout=60).close()
            while server.api("/api/analysis/coverage?lookback=1h")["traces"] < args.traces:
                time.sleep(0.2)
            print(f"{args.traces} traces of 8 spans; median of {args.repeat}")
            for path in ("propagation?lookback=1h", "coverage?lookback=1h",
                         "attributes?lookback=1h&by=latency",
                         f"attributes?service={synthetic.SERVICES[0]}&lookback=1h&by=error"):
                seconds = _median_s(lambda p=path: server.api(f"/api/analysis/{p}"), args.repeat)
                print(f"  GET /api/analysis/{path:<55} {seconds * 1000:8.0f} ms")
        finally:
            server.stop()
    now_ns = time.time_ns()
    for name, fn in (("propagation_health", lambda: propagation_health(traces, now_ns=now_ns)),
                     ("service_coverage", lambda: service_coverage(traces)),
                     ("attribute_differences", lambda: attribute_differences(traces))):
        print(f"  {name:<62} {_median_s(fn, args.repeat) * 1000:8.0f} ms (in-process)")


if __name__ == "__main__":
    main()
