"""RED series -> the JSON of Jaeger's metrics API (``/api/metrics/*``). Pure.

Jaeger renders a ``MetricFamily`` (jaeger ``api_v2/metrics/openmetrics.proto``)
with protobuf's JSON mapping: ``metricPoints[].gaugeValue.doubleValue`` is a
number, or the string ``"NaN"`` when there is no value (Jaeger UI's Monitor tab
then draws a gap), and ``timestamp`` is RFC 3339 in UTC. Labels are sorted by
name as Prometheus returns them: ``service_name`` alone, or ``operation`` then
``service_name`` when grouped by operation. Latencies are in milliseconds, call
rates per second, error rates a fraction of calls (0..1).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from traceway.analysis.red import Series

CALLS, ERRORS, LATENCIES = "calls", "errors", "latencies"
_NAMES = {CALLS: "call_rate", ERRORS: "error_rate", LATENCIES: "latencies"}
_HELP = {CALLS: "calls/sec", ERRORS: "error rate, computed as a fraction of errors/sec over "
         "calls/sec", LATENCIES: "{quantile}th quantile latency"}


def rfc3339(time_ns: int) -> str:
    """Protobuf's Timestamp JSON: UTC, with 0, 3, 6 or 9 fraction digits."""
    seconds, fraction = divmod(time_ns, 10**9)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        digits = 3 if fraction % 10**6 == 0 else 6 if fraction % 10**3 == 0 else 9
        text += "." + f"{fraction:09d}"[:digits]
    return text + "Z"


def _double(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def metric_family_json(metric: str, series: list[Series], group_by_operation: bool,
                       quantile: float | None = None) -> dict[str, Any]:
    """One MetricFamily: ``metric`` is ``calls``, ``errors`` or ``latencies``."""
    grouping = "service & operation" if group_by_operation else "service"
    prefix = "service_operation_" if group_by_operation else "service_"
    metrics = []
    for s in series:
        labels = [{"name": "service_name", "value": s.service}]
        if group_by_operation:
            labels.insert(0, {"name": "operation", "value": s.operation or ""})
        metrics.append({"labels": labels, "metricPoints": [
            {"gaugeValue": {"doubleValue": _double(v)}, "timestamp": rfc3339(t)}
            for t, v in s.points]})
    return {"name": prefix + _NAMES[metric], "type": "GAUGE",
            "help": _HELP[metric].format(quantile=quantile) + f", grouped by {grouping}",
            "metrics": metrics}
