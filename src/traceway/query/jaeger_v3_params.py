"""Parsing Jaeger API v3 query parameters (``query.*``) into storage queries.

Jaeger's HTTP gateway names them in snake_case (``query.service_name``); its
proto JSON names are camelCase (``query.serviceName``). Both are accepted, as
grpc-gateway accepts both, and so are the aliases Jaeger UI versions send
(``query.span_name``, ``query.num_traces``).
"""

from __future__ import annotations

import calendar
import datetime
import re
import time

from starlette.datastructures import QueryParams

from traceway.query.params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_NS,
    BadParameterError,
    parse_duration_ns,
)
from traceway.query.tags import TagSyntaxError, parse_tags_text
from traceway.storage.api import TagPattern, TraceQuery

DEFAULT_WINDOW_NS = 3_600 * 10**9

_NAMES = {
    "service": ("query.service_name", "query.serviceName"),
    "operation": ("query.operation_name", "query.operationName", "query.span_name",
                  "query.spanName"),
    "start_min": ("query.start_time_min", "query.startTimeMin"),
    "start_max": ("query.start_time_max", "query.startTimeMax"),
    "duration_min": ("query.duration_min", "query.durationMin"),
    "duration_max": ("query.duration_max", "query.durationMax"),
    "depth": ("query.search_depth", "query.searchDepth", "query.num_traces", "query.numTraces"),
    "attributes": ("query.attributes",),
}

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                      r"(?:([Zz])|([+-])(\d\d):(\d\d))")


def _param(params: QueryParams, field: str) -> tuple[str, str | None]:
    """(the name the client used, its value) for one field."""
    for name in _NAMES[field]:
        value = params.get(name)
        if value not in (None, ""):
            return name, value
    return _NAMES[field][0], None


def parse_rfc3339_ns(text: str, name: str) -> int:
    """An RFC 3339 time (``2024-05-01T12:00:00.123456789Z``, any offset) -> Unix ns."""
    match = _RFC3339.fullmatch(text.strip())
    if not match:
        raise BadParameterError(f"malformed parameter {name}: {text!r} is not an RFC 3339 time "
                                "like 2024-05-01T12:00:00Z")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))  # validates
    except ValueError:
        raise BadParameterError(f"malformed parameter {name}: {text!r} is not a valid time") from None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(9):
        offset = int(match.group(10)) * 3600 + int(match.group(11)) * 60
        seconds -= offset if match.group(9) == "+" else -offset
    fraction = (match.group(7) or "").ljust(9, "0")
    ns = seconds * 10**9 + int(fraction)
    if not 0 <= ns <= MAX_NS:
        raise BadParameterError(f"malformed parameter {name}: {text!r} is outside 1970 to 2262")
    return ns


def parse_attributes(raw: str | None) -> tuple[dict[str, str], tuple[TagPattern, ...]]:
    """``query.attributes``: a JSON object as Jaeger takes it, matched like the v1 API's
    ``tags``; the v1 ``tags`` logfmt (with its ``=~`` and ``=*`` patterns) works too."""
    if not raw:
        return {}, ()
    try:
        exact, patterns = parse_tags_text(raw)
    except TagSyntaxError as exc:
        message = str(exc).removeprefix("tags: ")
        raise BadParameterError(f"malformed parameter query.attributes: {message}") from None
    return exact, tuple(patterns)


def _duration(params: QueryParams, field: str) -> int | None:
    name, raw = _param(params, field)
    if raw is None:
        return None
    try:
        return parse_duration_ns(raw, name)
    except BadParameterError as exc:
        raise BadParameterError(f"malformed parameter {exc}") from None


def parse_v3_trace_query(params: QueryParams, now_ns: int | None = None) -> TraceQuery:
    """The ``query.*`` parameters of ``/api/v3/traces`` and ``/api/v3/trace-summaries``.

    Unlike Jaeger, the time bounds are optional: the last hour up to now by default.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    name, raw = _param(params, "start_max")
    end_ns = parse_rfc3339_ns(raw, name) if raw else now_ns
    name, raw = _param(params, "start_min")
    start_ns = parse_rfc3339_ns(raw, name) if raw else end_ns - DEFAULT_WINDOW_NS
    if start_ns > end_ns:
        raise BadParameterError("query.start_time_min must not be after query.start_time_max")
    duration_min, duration_max = _duration(params, "duration_min"), _duration(params, "duration_max")
    if duration_min is not None and duration_max is not None and duration_min > duration_max:
        raise BadParameterError("query.duration_min must not exceed query.duration_max")
    name, raw = _param(params, "depth")
    try:
        limit = int(raw) if raw else DEFAULT_LIMIT
    except ValueError:
        raise BadParameterError(f"malformed parameter {name}: {raw!r} is not an integer") from None
    if limit < 0:
        raise BadParameterError(f"malformed parameter {name}: must not be negative")
    tags, patterns = parse_attributes(_param(params, "attributes")[1])
    return TraceQuery(
        start_min_ns=start_ns, start_max_ns=end_ns,
        service=_param(params, "service")[1], operation=_param(params, "operation")[1],
        tags=tags, tag_patterns=patterns,
        duration_min_ns=duration_min, duration_max_ns=duration_max,
        limit=min(limit or DEFAULT_LIMIT, MAX_LIMIT))


def parse_optional_time(params: QueryParams, *names: str) -> int | None:
    """The first of ``names`` present, as an RFC 3339 time in ns; None when absent."""
    for name in names:
        raw = params.get(name)
        if raw:
            return parse_rfc3339_ns(raw, name)
    return None
