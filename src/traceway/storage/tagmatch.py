"""Tag-search semantics shared by every backend.

A tag ``key=value`` matches a span when the span shows ``key`` with that
string value anywhere a user can see it: its attributes, its events'
attributes, its links' attributes, its resource, its scope's attributes, or
one of the derived tags of the Jaeger view (see ``derived_pairs``).

Patterns (:class:`~traceway.storage.api.TagPattern`) match string values
only: string attributes and the derived tags that are strings; how a value
matches is ``value_matches``, the one definition every backend follows.

Backends may pre-filter with ``encoded_patterns`` (the exact protobuf bytes a
matching attribute has inside ``detail``/resource/scope) or, for patterns,
``key_bytes`` and ``required_text``, and must then confirm candidates with
``span_matches``.
"""

from __future__ import annotations

import functools
import math
import re
import re._constants as re_constants  # type: ignore[import-not-found]
import re._parser as re_parser  # type: ignore[import-not-found]
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import re2  # type: ignore[import-untyped]
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import string_pairs
from traceway.convert.derived import derived_tags, tag_string
from traceway.convert.otlp import decode_stored
from traceway.model import SpanRecord
from traceway.storage.api import TagPattern

_INT = re.compile(r"-?[0-9]{1,19}", re.ASCII)
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a user's bad pattern is answered, not logged


def derived_pairs(record: SpanRecord, span: Span, scope: InstrumentationScope) -> Iterator[tuple[str, str]]:
    """Tags Traceway shows that are not attributes (as Jaeger maps OTLP), and
    each event's name as ``event``."""
    for key, value, _ in _derived_values(record, span, scope):
        yield key, value


def _derived_values(record: SpanRecord, span: Span, scope: InstrumentationScope
                    ) -> Iterator[tuple[str, str, bool]]:
    for key, value in derived_tags(record, span, scope):
        yield key, tag_string(value), isinstance(value, str)
    for event in span.events:
        yield "event", event.name, True


def _attribute_values(attributes: Iterable[KeyValue]) -> Iterator[tuple[str, str, bool]]:
    for (key, text), kv in zip(string_pairs(attributes), attributes):
        yield key, text, kv.value.WhichOneof("value") == "string_value"


def span_tag_values(record: SpanRecord) -> Iterator[tuple[str, str, bool]]:
    """Every (key, string form, is a string value) a tag search can match on this
    span; a part that cannot be decoded contributes nothing (the span still
    matches on the rest)."""
    span, _ = decode_stored(Span, record.detail, "span detail")
    scope, _ = decode_stored(InstrumentationScope, record.scope, "scope")
    yield from _attribute_values(span.attributes)
    for event in span.events:
        yield from _attribute_values(event.attributes)
    for link in span.links:
        yield from _attribute_values(link.attributes)
    yield from _attribute_values(decode_stored(Resource, record.resource, "resource")[0].attributes)
    yield from _attribute_values(scope.attributes)
    yield from _derived_values(record, span, scope)


def span_tag_pairs(record: SpanRecord) -> Iterator[tuple[str, str]]:
    """Every (key, string value) a tag search can match on this span."""
    for key, value, _ in span_tag_values(record):
        yield key, value


def value_matches(pattern: TagPattern, value: str) -> bool:
    """Whether a string value satisfies ``pattern``: the semantics every backend keeps.

    ``contains``: ``pattern.text`` is a substring of ``value`` (case-sensitive;
    the empty text matches every value). ``regex``: RE2 syntax (what DuckDB and
    ClickHouse use) searched in the value, so unanchored (``^``/``$`` anchor) and
    case-sensitive unless the pattern says ``(?i)``. RE2 runs in linear time: no
    pattern can stall a search (there are no backreferences or lookarounds).
    """
    if pattern.mode == "contains":
        return pattern.text in value
    return compile_regex(pattern.text).search(value) is not None


@functools.lru_cache(maxsize=256)
def compile_regex(text: str) -> Any:
    """``text`` compiled by RE2; ValueError with RE2's reason when it is not a regex."""
    try:
        return re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        raise ValueError(reason.decode() if isinstance(reason, bytes) else str(reason)) from None


def span_matches(record: SpanRecord, tags: Mapping[str, str],
                 patterns: Sequence[TagPattern] = ()) -> bool:
    """Whether this one span satisfies every exact tag and every pattern."""
    if not tags and not patterns:
        return True
    wanted = set(tags.items())
    open_patterns = list(patterns)
    for key, value, is_string in span_tag_values(record):
        wanted.discard((key, value))
        if is_string and open_patterns:
            open_patterns = [p for p in open_patterns
                             if not (p.key == key and value_matches(p, value))]
        if not wanted and not open_patterns:
            return True
    return False


def key_bytes(key: str) -> bytes:
    """The bytes with which an attribute named ``key`` starts in any encoding."""
    return KeyValue(key=key).SerializeToString()


def required_text(pattern: TagPattern) -> str | None:
    """Text every value matching ``pattern`` contains, for a store's substring pre-filter.

    The text itself for ``contains``; for a regex, the longest run of literal
    characters the pattern requires at its top level (none when it has
    alternatives at the top, ignores case, or cannot be analysed). Python's
    parser reads the RE2 patterns it accepts the same way at the top level; what
    it cannot read gets no pre-filter.
    """
    if pattern.mode == "contains":
        return pattern.text
    try:
        parsed = re_parser.parse(pattern.text)
    except (re.error, RecursionError, OverflowError):
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    best, run = "", ""
    for op, argument in parsed:
        if op == re_constants.LITERAL:
            run += chr(argument)
            best = max(best, run, key=len)
        else:
            run = ""
    return best or None


def encoded_patterns(key: str, value: str) -> list[bytes]:
    """Protobuf encodings of a KeyValue whose string form is ``value``."""
    candidates = [AnyValue(string_value=value)]
    if _INT.fullmatch(value) and -(2**63) <= int(value) < 2**63:
        candidates.append(AnyValue(int_value=int(value)))
    try:
        number = float(value) if len(value) <= 400 else math.nan
    except ValueError:
        pass
    else:
        if not math.isnan(number) and value.strip() == value:
            candidates.append(AnyValue(double_value=number))
    if value in ("true", "false"):
        candidates.append(AnyValue(bool_value=value == "true"))
    return [KeyValue(key=key, value=v).SerializeToString() for v in candidates]
