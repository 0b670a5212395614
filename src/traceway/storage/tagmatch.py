"""Tag-search semantics shared by every backend.

A tag ``key=value`` matches a span when the span shows ``key`` with that
string value anywhere a user can see it: its attributes, its events'
attributes, its links' attributes, its resource, its scope's attributes, or
one of the derived tags of the Jaeger view (see ``derived_pairs``).

Backends may pre-filter with ``encoded_patterns`` (the exact protobuf bytes a
matching attribute has inside ``detail``/resource/scope) and must then confirm
candidates with ``span_matches``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping

from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from traceway.convert.attributes import string_pairs
from traceway.convert.jaeger_json import derived_tags
from traceway.convert.otlp import decode_stored
from traceway.model import SpanRecord

_INT = re.compile(r"-?\d+")


def derived_pairs(record: SpanRecord, span: Span, scope: InstrumentationScope) -> Iterator[tuple[str, str]]:
    """Tags Traceway shows that are not attributes (as Jaeger maps OTLP), and
    each event's name as ``event``."""
    for tag in derived_tags(record, span, scope):
        value = tag["value"]
        yield tag["key"], ("true" if value else "false") if isinstance(value, bool) else str(value)
    for event in span.events:
        yield "event", event.name


def span_tag_pairs(record: SpanRecord) -> Iterator[tuple[str, str]]:
    """Every (key, string value) a tag search can match on this span; a part
    that cannot be decoded contributes nothing (the span still matches on the rest)."""
    span, _ = decode_stored(Span, record.detail, "span detail")
    scope, _ = decode_stored(InstrumentationScope, record.scope, "scope")
    yield from string_pairs(span.attributes)
    for event in span.events:
        yield from string_pairs(event.attributes)
    for link in span.links:
        yield from string_pairs(link.attributes)
    yield from string_pairs(decode_stored(Resource, record.resource, "resource")[0].attributes)
    yield from string_pairs(scope.attributes)
    yield from derived_pairs(record, span, scope)


def span_matches(record: SpanRecord, tags: Mapping[str, str]) -> bool:
    if not tags:
        return True
    wanted = set(tags.items())
    for pair in span_tag_pairs(record):
        wanted.discard(pair)
        if not wanted:
            return True
    return False


def encoded_patterns(key: str, value: str) -> list[bytes]:
    """Protobuf encodings of a KeyValue whose string form is ``value``."""
    candidates = [AnyValue(string_value=value)]
    if _INT.fullmatch(value) and -(2**63) <= int(value) < 2**63:
        candidates.append(AnyValue(int_value=int(value)))
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isnan(number) and value.strip() == value:
            candidates.append(AnyValue(double_value=number))
    if value in ("true", "false"):
        candidates.append(AnyValue(bool_value=value == "true"))
    return [KeyValue(key=key, value=v).SerializeToString() for v in candidates]
