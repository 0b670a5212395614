"""Parsing Jaeger HTTP API query parameters into storage queries.

Every malformed or out-of-range parameter raises :class:`BadParameterError`
whose message names the parameter and says why in plain words; the handlers
answer it with 400. Numbers are bounded so that every value handed to a store
fits its 64-bit columns.
"""

from __future__ import annotations

import re
import time

from starlette.datastructures import QueryParams

from traceway.durations import DurationError
from traceway.durations import parse_duration_ns as parse_duration
from traceway.model import SPAN_KIND_BY_NAME
from traceway.query.tags import TagSyntaxError, parse_tag_param, parse_tags_text
from traceway.storage.api import TagPattern, TraceQuery

DEFAULT_LIMIT = 20
MAX_LIMIT = 2_000
DEFAULT_LOOKBACK_NS = 3_600 * 10**9
DEFAULT_DEPENDENCIES_LOOKBACK_NS = 86_400 * 10**9
MAX_NS = 2**63 - 1

_INTEGER = re.compile(r"\s*-?[0-9]+\s*", re.ASCII)


class BadParameterError(ValueError):
    """A query parameter is malformed; the message names it and says why."""


def parse_duration_ns(text: str, name: str) -> int:
    """A duration parameter in nanoseconds (``traceway.durations`` grammar)."""
    try:
        return parse_duration(text.strip())
    except DurationError as exc:
        raise BadParameterError(f"{name}: {exc}") from None


def _integer(raw: str, name: str, largest: int, unit: str = "") -> int:
    """A decimal integer from 0 to ``largest``."""
    if not _INTEGER.fullmatch(raw):
        raise BadParameterError(f"{name}: {raw[:40]!r} is not an integer")
    digits = raw.strip()
    if digits.startswith("-"):
        raise BadParameterError(f"{name}: must not be negative")
    if len(digits) > 20 or int(digits) > largest:
        raise BadParameterError(f"{name}: {digits[:40]} is over the maximum of {largest}{unit}")
    return int(digits)


def _int_param(params: QueryParams, name: str, unit_ns: int) -> int | None:
    """An integer parameter counted in ``unit_ns``, returned in nanoseconds."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    return _integer(raw, name, MAX_NS // unit_ns) * unit_ns


def parse_limit(params: QueryParams) -> int:
    """``limit``: 0 or absent means the default; at most MAX_LIMIT traces."""
    raw = params.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    return _integer(raw, "limit", MAX_LIMIT, " traces") or DEFAULT_LIMIT


def parse_tags(params: QueryParams) -> tuple[dict[str, str], tuple[TagPattern, ...]]:
    """``tags`` (logfmt or a JSON object) and every ``tag=key:value``: exact
    conditions by key, and the substring/regex patterns."""
    exact: dict[str, str] = {}
    patterns: list[TagPattern] = []
    try:
        raw = params.get("tags")
        if raw and raw.strip():
            found = parse_tags_text(raw)
            exact.update(found[0])
            patterns += found[1]
        for item in params.getlist("tag"):
            key, value, pattern = parse_tag_param(item)
            if pattern is None:
                exact[key] = value
            else:
                patterns.append(pattern)
    except TagSyntaxError as exc:
        raise BadParameterError(str(exc)) from None
    return exact, tuple(patterns)


def parse_span_kind(raw: str | None) -> int | None:
    if not raw:
        return None
    kind = SPAN_KIND_BY_NAME.get(raw.lower())
    if kind is None:
        raise BadParameterError(f"spanKind: {raw[:40]!r} is not one of "
                                f"{', '.join(sorted(SPAN_KIND_BY_NAME))}")
    return kind


def parse_trace_query(params: QueryParams, now_ns: int | None = None) -> TraceQuery:
    now_ns = now_ns if now_ns is not None else time.time_ns()
    end_ns = _int_param(params, "end", 1000)
    start_ns = _int_param(params, "start", 1000)
    end_ns = end_ns if end_ns is not None else now_ns
    lookback = params.get("lookback")
    lookback_ns = (parse_duration_ns(lookback, "lookback")
                   if lookback and lookback != "custom" else DEFAULT_LOOKBACK_NS)
    start_ns = start_ns if start_ns is not None else max(0, end_ns - lookback_ns)
    if start_ns > end_ns:
        raise BadParameterError("start must not be after end")
    durations = {}
    for name in ("minDuration", "maxDuration"):
        raw = params.get(name)
        durations[name] = parse_duration_ns(raw, name) if raw else None
    if (durations["minDuration"] is not None and durations["maxDuration"] is not None
            and durations["minDuration"] > durations["maxDuration"]):
        raise BadParameterError("minDuration must not exceed maxDuration")
    tags, patterns = parse_tags(params)
    return TraceQuery(
        start_min_ns=start_ns, start_max_ns=end_ns,
        service=params.get("service") or None, operation=params.get("operation") or None,
        span_kind=parse_span_kind(params.get("spanKind")), tags=tags, tag_patterns=patterns,
        duration_min_ns=durations["minDuration"], duration_max_ns=durations["maxDuration"],
        limit=parse_limit(params))


def parse_trace_id(text: str) -> bytes:
    """16 or 32 hex characters, any case; shorter ids are zero-padded like Jaeger's."""
    if not 1 <= len(text) <= 32:
        raise BadParameterError(f"trace id {text[:40]!r} must be 16 or 32 hex characters")
    if not re.fullmatch(r"[0-9a-fA-F]+", text):
        raise BadParameterError(f"trace id {text!r} is not hexadecimal")
    raw = bytes.fromhex(text.rjust(32, "0"))
    if raw == bytes(16):
        raise BadParameterError("trace id must not be zero")
    return raw


def parse_dependencies_window(params: QueryParams, now_ns: int | None = None) -> tuple[int, int]:
    """``endTs`` and ``lookback`` in milliseconds, as Jaeger's dependencies call."""
    now_ns = now_ns if now_ns is not None else time.time_ns()
    end_ns = _int_param(params, "endTs", 10**6)
    lookback_ns = _int_param(params, "lookback", 10**6)
    end_ns = end_ns if end_ns is not None else now_ns
    lookback_ns = lookback_ns if lookback_ns is not None else DEFAULT_DEPENDENCIES_LOOKBACK_NS
    return max(0, end_ns - lookback_ns), end_ns
