"""Parsing Jaeger HTTP API query parameters into storage queries."""

from __future__ import annotations

import json
import re
import time

from starlette.datastructures import QueryParams

from traceway.model import SPAN_KIND_BY_NAME
from traceway.storage.api import TraceQuery

DEFAULT_LIMIT = 20
MAX_LIMIT = 1_500
DEFAULT_LOOKBACK_NS = 3_600 * 10**9

_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
            "m": 60 * 10**9, "h": 3_600 * 10**9, "d": 86_400 * 10**9}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")


class BadParameterError(ValueError):
    """A query parameter is malformed; the message names it and says why."""


def parse_duration_ns(text: str, name: str) -> int:
    """Go duration strings (``1.5s``, ``100ms``, ``250us``, ``4500ns``, ``1h30m``)
    plus ``d`` for days, as Jaeger's lookback allows."""
    text = text.strip()
    position, total = 0, 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if not match:
            raise BadParameterError(f"{name}: {text!r} is not a duration like 1.5s, 100ms, "
                                    "250us, 4500ns or 2h")
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        position = match.end()
    if not text:
        raise BadParameterError(f"{name}: empty duration")
    return round(total)


def _int_param(params: QueryParams, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadParameterError(f"{name}: {raw!r} is not an integer") from None


def parse_tags(params: QueryParams) -> dict[str, str]:
    tags: dict[str, str] = {}
    raw = params.get("tags")
    if raw:
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadParameterError(f"tags: not a JSON object: {exc}") from None
        if not isinstance(document, dict):
            raise BadParameterError("tags: must be a JSON object like {\"error\":\"true\"}")
        for key, value in document.items():
            tags[str(key)] = _tag_string(value)
    for item in params.getlist("tag"):
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise BadParameterError(f"tag: {item!r} must look like key:value")
        tags[key] = value
    return tags


def _tag_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def parse_span_kind(raw: str | None) -> int | None:
    if not raw:
        return None
    kind = SPAN_KIND_BY_NAME.get(raw.lower())
    if kind is None:
        raise BadParameterError(f"spanKind: {raw!r} is not one of "
                                f"{', '.join(sorted(SPAN_KIND_BY_NAME))}")
    return kind


def parse_trace_query(params: QueryParams, now_ns: int | None = None) -> TraceQuery:
    now_ns = now_ns if now_ns is not None else time.time_ns()
    end_us = _int_param(params, "end")
    start_us = _int_param(params, "start")
    end_ns = end_us * 1000 if end_us is not None else now_ns
    lookback = params.get("lookback")
    lookback_ns = (parse_duration_ns(lookback, "lookback")
                   if lookback and lookback != "custom" else DEFAULT_LOOKBACK_NS)
    start_ns = start_us * 1000 if start_us is not None else end_ns - lookback_ns
    if start_ns > end_ns:
        raise BadParameterError("start must not be after end")
    limit = _int_param(params, "limit") or DEFAULT_LIMIT
    if limit < 0:
        raise BadParameterError("limit must be positive")
    durations = {}
    for name in ("minDuration", "maxDuration"):
        raw = params.get(name)
        durations[name] = parse_duration_ns(raw, name) if raw else None
    if (durations["minDuration"] is not None and durations["maxDuration"] is not None
            and durations["minDuration"] > durations["maxDuration"]):
        raise BadParameterError("minDuration must not exceed maxDuration")
    return TraceQuery(
        start_min_ns=start_ns, start_max_ns=end_ns,
        service=params.get("service") or None, operation=params.get("operation") or None,
        span_kind=parse_span_kind(params.get("spanKind")), tags=parse_tags(params),
        duration_min_ns=durations["minDuration"], duration_max_ns=durations["maxDuration"],
        limit=min(limit, MAX_LIMIT))


def parse_trace_id(text: str) -> bytes:
    """16 or 32 hex characters, any case; shorter ids are zero-padded like Jaeger's."""
    if not 1 <= len(text) <= 32:
        raise BadParameterError(f"trace id {text!r} must be 16 or 32 hex characters")
    try:
        raw = bytes.fromhex(text.rjust(32, "0"))
    except ValueError:
        raise BadParameterError(f"trace id {text!r} is not hexadecimal") from None
    if raw == bytes(16):
        raise BadParameterError("trace id must not be zero")
    return raw


def parse_dependencies_window(params: QueryParams, now_ns: int | None = None) -> tuple[int, int]:
    now_ns = now_ns if now_ns is not None else time.time_ns()
    end_ms = _int_param(params, "endTs")
    lookback_ms = _int_param(params, "lookback")
    end_ns = end_ms * 10**6 if end_ms is not None else now_ns
    lookback_ns = lookback_ms * 10**6 if lookback_ms is not None else 86_400 * 10**9
    if lookback_ns < 0:
        raise BadParameterError("lookback must not be negative")
    return end_ns - lookback_ns, end_ns
