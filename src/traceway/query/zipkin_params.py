"""Parsing Zipkin v2 read-API query parameters, with Zipkin's defaults and words.

What the store can search for (service, span name, durations, ``key=value`` tags)
goes into a ``TraceQuery``; what it cannot (a remote service, a bare
``annotationQuery`` word) becomes a ``SpanFilter`` checked on Zipkin spans.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from traceway.query.params import MAX_LIMIT, MAX_NS, BadParameterError, parse_trace_id
from traceway.storage.api import TraceQuery

DEFAULT_LIMIT = 10
DEFAULT_LOOKBACK_MS = 86_400_000  # Zipkin's QUERY_LOOKBACK
_MS = 1_000_000
_US = 1_000


@dataclass(frozen=True, slots=True)
class SpanFilter:
    """Conditions on one Zipkin span the store cannot check: all must hold."""

    service: str | None = None
    span_name: str | None = None
    min_us: int | None = None
    max_us: int | None = None
    remote_service: str | None = None
    words: tuple[str, ...] = field(default_factory=tuple)  # annotation values or tag keys

    def __bool__(self) -> bool:
        """Whether anything is left that the store did not check."""
        return bool(self.remote_service or self.words)

    def matches(self, span: dict[str, Any]) -> bool:
        if self.service and span.get("localEndpoint", {}).get("serviceName") != self.service:
            return False
        if self.span_name and span.get("name") != self.span_name:
            return False
        duration = span.get("duration", 0)
        if ((self.min_us is not None and duration < self.min_us)
                or (self.max_us is not None and duration > self.max_us)):
            return False
        if (self.remote_service
                and span.get("remoteEndpoint", {}).get("serviceName") != self.remote_service):
            return False
        values = {a["value"] for a in span.get("annotations", ())}
        tags = span.get("tags", {})
        return all(word in values or word in tags for word in self.words)


def _int(params: QueryParams, name: str, largest: int) -> int | None:
    """A whole number from 0 to ``largest`` (so that it fits the store's 64-bit times)."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadParameterError(f"{name} must be an integer, got {raw[:40]!r}") from None
    if value < 0:
        raise BadParameterError(f"{name} must not be negative")
    if value > largest:
        raise BadParameterError(f"{name} must be at most {largest}")
    return value


def _name(params: QueryParams, name: str) -> str | None:
    value = params.get(name)
    return None if value in (None, "", "all") else value  # Zipkin: "all" means no filter


def parse_annotation_query(text: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """``http.method=GET and error and retried`` -> ({"http.method": "GET"}, ("error", "retried"))."""
    tags: dict[str, str] = {}
    words: list[str] = []
    for term in text.split(" and "):
        term = term.strip()
        if not term:
            continue
        key, sep, value = term.partition("=")
        if sep and not key:
            raise BadParameterError(f"annotationQuery: {term!r} has no key before '='")
        if value:
            tags[key] = value
        else:
            words.append(key)
    return tags, tuple(words)


def parse_window_ms(params: QueryParams, now_ns: int | None = None) -> tuple[int, int]:
    """``endTs`` and ``lookback`` (epoch ms) -> (start, end) in ns."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    end_ms = _int(params, "endTs", MAX_NS // _MS)
    lookback_ms = _int(params, "lookback", MAX_NS // _MS)
    end_ns = end_ms * _MS if end_ms is not None else now_ns
    lookback_ns = (lookback_ms if lookback_ms is not None else DEFAULT_LOOKBACK_MS) * _MS
    return max(0, end_ns - lookback_ns), end_ns


def parse_zipkin_trace_query(params: QueryParams,
                             now_ns: int | None = None) -> tuple[TraceQuery, SpanFilter]:
    start_ns, end_ns = parse_window_ms(params, now_ns)
    min_us = _int(params, "minDuration", MAX_NS // _US)
    max_us = _int(params, "maxDuration", MAX_NS // _US)
    if max_us is not None and min_us is None:
        raise BadParameterError("maxDuration is only valid with minDuration")
    if min_us is not None and max_us is not None and min_us > max_us:
        raise BadParameterError("minDuration must not exceed maxDuration")
    limit = _int(params, "limit", MAX_LIMIT) or DEFAULT_LIMIT
    tags, words = parse_annotation_query(params.get("annotationQuery") or "")
    service = _name(params, "serviceName")
    query = TraceQuery(
        start_min_ns=start_ns, start_max_ns=end_ns, service=service,
        operation=_name(params, "spanName"), tags=tags,
        duration_min_ns=min_us * _US if min_us is not None else None,
        duration_max_ns=max_us * _US if max_us is not None else None,
        limit=min(limit, MAX_LIMIT))
    return query, SpanFilter(service, query.operation, min_us, max_us,
                             _name(params, "remoteServiceName"), words)


def parse_zipkin_trace_id(text: str) -> bytes:
    """16 or 32 hex characters; a 64-bit id is the 128-bit one with a zero upper half."""
    if len(text) > 32:
        raise BadParameterError(f"traceId {text!r} must be 16 or 32 hex characters")
    return parse_trace_id(text.lower())


def parse_trace_ids(raw: str | None) -> list[bytes]:
    """``traceMany``'s comma-separated ``traceIds``."""
    ids = [parse_zipkin_trace_id(t.strip()) for t in (raw or "").split(",") if t.strip()]
    if not ids:
        raise BadParameterError("traceIds parameter is empty")
    return list(dict.fromkeys(ids))
