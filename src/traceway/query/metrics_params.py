"""Parsing the query parameters of Jaeger's metrics API (``/api/metrics/*``).

As Jaeger's query service: ``service`` (repeatable, required), ``groupByOperation``,
``spanKind`` (repeatable; ``server`` by default), ``endTs`` in Unix milliseconds
(now by default), ``lookback``, ``step`` and ``ratePer`` in milliseconds or as a
duration (``1h``; defaults 1h, 5s, 10m). ``ratePer`` is the window each point's
rate covers, as in PromQL's ``rate(calls[ratePer])``. Error messages start
``unable to parse param '<name>'`` like Jaeger's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from traceway.analysis.red import Grid
from traceway.model import SPAN_KIND_BY_NAME, SpanKind
from traceway.query.params import BadParameterError, parse_duration_ns

DEFAULT_LOOKBACK_NS = 3_600 * 10**9
DEFAULT_STEP_NS = 5 * 10**9
DEFAULT_RATE_PER_NS = 600 * 10**9
MAX_POINTS = 11_000  # Prometheus' limit per series
_KINDS = {"unspecified": int(SpanKind.UNSPECIFIED), **SPAN_KIND_BY_NAME}


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    services: list[str]
    span_kinds: list[int]
    group_by_operation: bool
    grid: Grid


def _invalid(name: str, why: str) -> BadParameterError:
    return BadParameterError(f"unable to parse param '{name}': {why}")


def _duration_ns(params: QueryParams, name: str, default_ns: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default_ns
    try:
        value = int(raw) * 10**6 if raw.lstrip("-").isdigit() else parse_duration_ns(raw, name)
    except BadParameterError as exc:
        raise _invalid(name, str(exc).split(": ", 1)[-1]) from None
    if value <= 0:
        raise _invalid(name, f"{raw!r} must be positive")
    return value


def parse_bool(params: QueryParams, name: str) -> bool:
    raw = (params.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0", "t", "f"):
        raise _invalid(name, f"{raw!r} is not a boolean")
    return raw in ("true", "1", "t")


def parse_span_kinds(params: QueryParams, default: list[int]) -> list[int]:
    names = params.getlist("spanKind")
    if not names:
        return default
    unknown = [n for n in names if n not in _KINDS]
    if unknown:
        raise _invalid("spanKind", f"unsupported span kind: '{unknown[0]}'")
    return sorted({_KINDS[n] for n in names})


def parse_window(params: QueryParams, now_ns: int | None = None,
                 default_step_ns: int = DEFAULT_STEP_NS) -> Grid:
    raw_end = params.get("endTs")
    if raw_end in (None, ""):
        end_ns = now_ns if now_ns is not None else time.time_ns() // 10**6 * 10**6
    elif raw_end.lstrip("-").isdigit():
        end_ns = int(raw_end) * 10**6
    else:
        raise _invalid("endTs", f"{raw_end!r} is not Unix milliseconds")
    grid = Grid.of(end_ns, _duration_ns(params, "lookback", DEFAULT_LOOKBACK_NS),
                   _duration_ns(params, "step", default_step_ns),
                   _duration_ns(params, "ratePer", DEFAULT_RATE_PER_NS))
    if grid.lookback_ns // grid.step_ns > MAX_POINTS:
        raise _invalid("step", f"more than {MAX_POINTS} points; use a longer step")
    return grid


def parse_metrics_query(params: QueryParams, now_ns: int | None = None) -> MetricsQuery:
    services = [s for s in params.getlist("service") if s]
    if not services:
        raise _invalid("service", "please provide at least one service name")
    return MetricsQuery(services, parse_span_kinds(params, [int(SpanKind.SERVER)]),
                        parse_bool(params, "groupByOperation"), parse_window(params, now_ns))


def parse_quantile(params: QueryParams) -> float:
    raw = params.get("quantile") or ""
    try:
        quantile = float(raw)
    except ValueError:
        raise _invalid("quantile", f"{raw!r} is not a number") from None
    if not 0 < quantile <= 1:
        raise _invalid("quantile", f"{raw} is not in (0, 1]")
    return quantile
